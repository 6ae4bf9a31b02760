import { Injectable, Module, Optional, type INestApplicationContext } from '@nestjs/common';
import {
  AmqpConnection,
  AmqpConnectionRegistry,
  InjectAmqpConnection,
  InvalidOptionsError,
  RabbitMQModule,
  RabbitSubscribe,
  type RabbitMQModuleOptions,
  type RabbitMQOptionsFactory,
} from '@warren/rabbitmq';
import { bootExpectingFailure, suiteApps } from './support/app';
import { AMQP_URL, rabbitmqctl, uniqueName, waitFor } from './support/broker';

/** Sends a message straight to a queue through the default exchange. */
function sendToQueue(amqp: AmqpConnection, queue: string, payload: unknown): Promise<void> {
  return amqp.publish('', queue, payload);
}

describe('RabbitMQModule', () => {
  const suite = suiteApps();
  const boot = suite.boot;

  describe('forRootAsync', () => {
    // A ConfigModule look-alike: options come from an injected provider of another module.
    @Injectable()
    class AppConfig {
      readonly amqpUrl = AMQP_URL;
      readonly queue = uniqueName('module.async.cfg');
    }

    @Module({ providers: [AppConfig], exports: [AppConfig] })
    class AppConfigModule {}

    @Injectable()
    class RabbitConfig implements RabbitMQOptionsFactory {
      constructor(private readonly config: AppConfig) {}
      createRabbitMQOptions(): RabbitMQModuleOptions {
        return { uri: this.config.amqpUrl, queues: [{ name: this.config.queue }] };
      }
    }

    @Module({ imports: [AppConfigModule], providers: [RabbitConfig], exports: [RabbitConfig] })
    class RabbitConfigModule {}

    it('builds options with useFactory and inject from an imported config provider', async () => {
      const app = await boot({
        imports: [
          RabbitMQModule.forRootAsync({
            imports: [AppConfigModule],
            inject: [AppConfig],
            useFactory: (config: AppConfig): RabbitMQModuleOptions => ({ uri: config.amqpUrl, queues: [{ name: config.queue }] }),
          }),
        ],
      });
      const queue = app.get(AppConfig).queue;
      suite.admin.track('queue', queue);
      expect(app.get(AmqpConnection).isConnected).toBe(true);
      // The queue name only exists in the injected provider: the factory must have run with it.
      expect(await suite.admin.queueExists(queue)).toBe(true);
    });

    it('builds options with useClass (instantiated inside the module, with its imports)', async () => {
      const app = await boot({
        imports: [RabbitMQModule.forRootAsync({ imports: [AppConfigModule], useClass: RabbitConfig })],
      });
      const queue = app.get(AppConfig).queue;
      suite.admin.track('queue', queue);
      expect(app.get(AmqpConnection).isConnected).toBe(true);
      expect(await suite.admin.queueExists(queue)).toBe(true);
    });

    it('builds options with useExisting (a provider exported by an imported module)', async () => {
      const app = await boot({
        imports: [RabbitMQModule.forRootAsync({ imports: [RabbitConfigModule], useExisting: RabbitConfig })],
      });
      const config = app.get(RabbitConfig);
      const queue = (config.createRabbitMQOptions().queues ?? [])[0].name;
      suite.admin.track('queue', queue);
      expect(app.get(AmqpConnection).isConnected).toBe(true);
      expect(await suite.admin.queueExists(queue)).toBe(true);
    });
  });

  describe('global registration', () => {
    @Injectable()
    class FeatureService {
      constructor(@Optional() readonly amqp?: AmqpConnection) {}
    }

    // Does not import RabbitMQModule.
    @Module({ providers: [FeatureService], exports: [FeatureService] })
    class FeatureModule {}

    it('is global by default: a feature module that does not import it can inject AmqpConnection', async () => {
      const queue = uniqueName('module.global');
      suite.admin.track('queue', queue);
      const app = await boot({ imports: [RabbitMQModule.forRoot({ uri: AMQP_URL, queues: [{ name: queue }] }), FeatureModule] });
      const feature = app.get(FeatureService);
      expect(feature.amqp).toBe(app.get(AmqpConnection));
      await feature.amqp!.publish('', queue, { via: 'feature' });
      await waitFor(async () => (await suite.admin.messageCount(queue)) === 1, 'the feature module publish');
    });

    it('is not visible to other modules with global: false', async () => {
      const app = await boot({ imports: [RabbitMQModule.forRoot({ uri: AMQP_URL, global: false }), FeatureModule] });
      expect(app.get(FeatureService).amqp).toBeUndefined();
    });
  });

  describe('named connections', () => {
    const queueDefault = uniqueName('module.named.default');
    const queueSecond = uniqueName('module.named.second');
    const secondConnectionName = uniqueName('module.named.conn');

    @Injectable()
    class OnDefault {
      readonly received: unknown[] = [];
      @RabbitSubscribe({ queue: queueDefault })
      on(payload: unknown): void {
        this.received.push(payload);
      }
    }

    @Injectable()
    class OnSecond {
      readonly received: unknown[] = [];
      @RabbitSubscribe({ queue: queueSecond, connection: 'second' })
      on(payload: unknown): void {
        this.received.push(payload);
      }
    }

    @Injectable()
    class UsesSecond {
      constructor(
        @InjectAmqpConnection('second') readonly second: AmqpConnection,
        readonly first: AmqpConnection,
      ) {}
    }

    let app: INestApplicationContext;

    beforeAll(async () => {
      suite.admin.track('queue', queueDefault, queueSecond);
      app = await boot({
        imports: [RabbitMQModule.forRoot({ uri: AMQP_URL }), RabbitMQModule.forRoot({ name: 'second', uri: AMQP_URL, connectionName: secondConnectionName })],
        providers: [OnDefault, OnSecond, UsesSecond],
      });
    });

    it('injects a named connection with @InjectAmqpConnection and finds it in the registry', async () => {
      const { first, second } = app.get(UsesSecond);
      const registry = app.get(AmqpConnectionRegistry);
      expect(second).toBeInstanceOf(AmqpConnection);
      expect(second).not.toBe(first);
      expect(second.name).toBe('second');
      expect(registry.get('second')).toBe(second);
      expect(registry.get()).toBe(first);
      expect(second.connection).not.toBe(first.connection);
      const clients = await rabbitmqctl('list_connections', '-q', '--no-table-headers', 'client_properties');
      expect(clients).toContain(`"${secondConnectionName}"`);
    });

    it('consumes a handler with connection: "second" on the second connection only', async () => {
      const { first, second } = app.get(UsesSecond);
      await sendToQueue(first, queueSecond, { n: 2 });
      await sendToQueue(second, queueDefault, { n: 1 });
      await waitFor(() => app.get(OnSecond).received.length === 1 && app.get(OnDefault).received.length === 1, 'both handlers');
      expect(app.get(OnSecond).received).toEqual([{ n: 2 }]);
      // The handler belongs to the second connection: the default one does not know it.
      await expect(first.cancelConsumer('OnSecond.on')).rejects.toThrow(/No handler named 'OnSecond.on'/);
      await second.cancelConsumer('OnSecond.on');
      await waitFor(async () => (await suite.admin.consumerCount(queueSecond)) === 0, 'consumer cancelled on the second connection');
      expect(await suite.admin.consumerCount(queueDefault)).toBe(1);
      await second.resumeConsumer('OnSecond.on');
      await waitFor(async () => (await suite.admin.consumerCount(queueSecond)) === 1, 'consumer resumed');
    });
  });

  describe('start-up validation', () => {
    it('fails start-up with InvalidOptionsError when a handler names an unknown connection', async () => {
      const queue = uniqueName('module.unknown');
      @Injectable()
      class Misconfigured {
        @RabbitSubscribe({ queue, connection: 'analytics' })
        a(): void {}
        @RabbitSubscribe({ queue, connection: 'reporting' })
        b(): void {}
      }
      const error = (await bootExpectingFailure({
        imports: [RabbitMQModule.forRoot({ uri: AMQP_URL })],
        providers: [Misconfigured],
      })) as InvalidOptionsError;
      expect(error).toBeInstanceOf(InvalidOptionsError);
      expect(error.code).toBe('INVALID_OPTIONS');
      expect(error.problems).toHaveLength(2);
      expect(error.problems[0]).toContain('Misconfigured.a');
      expect(error.problems[0]).toContain("'analytics'");
      expect(error.problems[1]).toContain("'reporting'");
      // Nothing was consumed before start-up failed.
      expect(await suite.admin.queueExists(queue)).toBe(false);
    });

    it('lists every invalid option in one InvalidOptionsError', async () => {
      const error = (await bootExpectingFailure({
        imports: [
          RabbitMQModule.forRoot({
            uri: ['http://guest:hunter2@localhost'],
            prefetchCount: -1,
            reconnectTimeInSeconds: 0,
            defaultErrorBehavior: 'explode' as never,
            publishOptions: { timeout: Number.NaN },
          }),
        ],
      })) as InvalidOptionsError;
      expect(error).toBeInstanceOf(InvalidOptionsError);
      expect(error.problems).toHaveLength(5);
      const text = error.problems.join('\n');
      for (const field of ['uri', 'prefetchCount', 'reconnectTimeInSeconds', 'defaultErrorBehavior', 'publishOptions.timeout']) {
        expect(text).toContain(field);
      }
      expect(error.message).toContain('5 problems');
      expect(error.message).not.toContain('hunter2');
    });
  });

  describe('two applications in one process', () => {
    const decoratorQueue = uniqueName('module.two.decorator');
    const queueA = uniqueName('module.two.a');
    const queueB = uniqueName('module.two.b');

    @Injectable()
    class TenantHandler {
      readonly received: unknown[] = [];
      @RabbitSubscribe({ queue: decoratorQueue })
      on(payload: unknown): void {
        this.received.push(payload);
      }
    }

    let appA: INestApplicationContext;
    let appB: INestApplicationContext;

    beforeAll(async () => {
      suite.admin.track('queue', decoratorQueue, queueA, queueB);
      appA = await boot({
        imports: [RabbitMQModule.forRoot({ uri: AMQP_URL, connectionName: uniqueName('app-a'), handlers: { 'TenantHandler.on': { queue: queueA } } })],
        providers: [TenantHandler],
      });
      appB = await boot({
        imports: [RabbitMQModule.forRoot({ uri: AMQP_URL, connectionName: uniqueName('app-b'), handlers: { 'TenantHandler.on': { queue: queueB } } })],
        providers: [TenantHandler],
      });
    });

    it('overrides handler options from the module options by handler name', async () => {
      await waitFor(
        async () => (await suite.admin.consumerCount(queueA)) === 1 && (await suite.admin.consumerCount(queueB)) === 1,
        'one consumer on each configured queue',
      );
      expect(await suite.admin.queueExists(decoratorQueue)).toBe(false);
    });

    it('gives each application its own connection, registry and handler instances', async () => {
      const amqpA = appA.get(AmqpConnection);
      const amqpB = appB.get(AmqpConnection);
      expect(amqpA).not.toBe(amqpB);
      expect(amqpA.connection).not.toBe(amqpB.connection);
      expect(appA.get(AmqpConnectionRegistry)).not.toBe(appB.get(AmqpConnectionRegistry));

      // Published through B, to A's queue: only A's provider instance sees it.
      await sendToQueue(amqpB, queueA, { for: 'a' });
      await sendToQueue(amqpA, queueB, { for: 'b' });
      const handlerA = appA.get(TenantHandler);
      const handlerB = appB.get(TenantHandler);
      await waitFor(() => handlerA.received.length === 1 && handlerB.received.length === 1, 'one message per app');
      expect(handlerA.received).toEqual([{ for: 'a' }]);
      expect(handlerB.received).toEqual([{ for: 'b' }]);
    });

    it('keeps working in one application after the other is closed', async () => {
      await suite.close(appA);
      const amqpB = appB.get(AmqpConnection);
      expect(amqpB.isConnected).toBe(true);
      await sendToQueue(amqpB, queueB, { for: 'b', again: true });
      await waitFor(() => appB.get(TenantHandler).received.length === 2, 'B still consuming');
      expect(await suite.admin.consumerCount(queueA)).toBe(0);
    });
  });
});
