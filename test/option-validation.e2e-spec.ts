import { Injectable, Module } from '@nestjs/common';
import { AmqpConnection, InvalidOptionsError, RabbitMQModule, RabbitSubscribe, type RabbitHandlerConfig, type RabbitMQModuleOptions } from '@warren/rabbitmq';
import { bootExpectingFailure, suiteApps } from './support/app';
import { AMQP_URL, uniqueName, waitFor } from './support/broker';

/** Options as a user might write them in plain JavaScript or build from configuration: anything goes. */
const hostile = (options: Record<string, unknown>): RabbitMQModuleOptions => options as unknown as RabbitMQModuleOptions;

async function startupError(imports: Parameters<typeof bootExpectingFailure>[0]): Promise<InvalidOptionsError> {
  const error = await bootExpectingFailure(imports);
  expect(error).toBeInstanceOf(InvalidOptionsError);
  return error as InvalidOptionsError;
}

describe('No silently ignored option: unknown keys and wrong types fail start-up', () => {
  const apps = suiteApps();

  it('a top-level typo names the key and the closest valid name', async () => {
    const error = await startupError({ imports: [RabbitMQModule.forRoot(hostile({ uri: AMQP_URL, prefetchcount: 5 }))] });
    expect(error.unknownOptions).toEqual([{ path: `connection 'default': prefetchcount`, didYouMean: 'prefetchCount' }]);
    expect(error.message).toContain('prefetchcount: unknown option; did you mean prefetchCount?');
  });

  it('forRootAsync: nested unknown keys, keys inside arrays and records, and wrong types, all in one error', async () => {
    const error = await startupError({
      imports: [
        RabbitMQModule.forRootAsync({
          name: 'async-bad',
          useFactory: () =>
            hostile({
              uri: [AMQP_URL, 42],
              exchanges: [{ name: 'x', typ: 'topic' }],
              queues: [{ name: 'q', bindings: [{ exchange: 'x', routingkey: 'k' }], durable: 'yes' }],
              channels: { slow: { prefetch: 1 } },
              connectionManagerOptions: { heartbeatIntervalInSecond: 5 },
              publishOptions: { timeout: -1 },
            }),
        }),
      ],
    });
    expect(error.unknownOptions.map((u) => `${u.path} -> ${u.didYouMean ?? '?'}`)).toEqual([
      `connection 'async-bad': exchanges[0].typ -> type`,
      `connection 'async-bad': queues[0].bindings[0].routingkey -> routingKey`,
      `connection 'async-bad': channels.slow.prefetch -> prefetchCount`,
      `connection 'async-bad': connectionManagerOptions.heartbeatIntervalInSecond -> heartbeatIntervalInSeconds`,
    ]);
    const text = error.problems.join('\n');
    expect(text).toMatch(/uri\[1\] must be .* \(got number 42\)/);
    expect(text).toContain(`queues[0].durable must be a boolean (got 'yes')`);
    expect(text).toContain('publishOptions.timeout must be a positive number (got -1)');
    expect(error.problems).toHaveLength(7);
  });

  it("a handler's decorator options: unknown keys (queueOptions included) and wrong types, with the handler's name", async () => {
    const queue = uniqueName('validation-handler');
    @Injectable()
    class Handlers {
      @RabbitSubscribe({ queue, routingkey: 'a.b', queueOptions: { durabel: true }, prefetch: '5' } as unknown as RabbitHandlerConfig)
      onEvent(): void {}
    }
    const error = await startupError({ imports: [RabbitMQModule.forRoot({ uri: AMQP_URL })], providers: [Handlers] });
    expect(error.unknownOptions).toEqual([
      { path: `connection 'default': handler Handlers.onEvent: routingkey`, didYouMean: 'routingKey' },
      { path: `connection 'default': handler Handlers.onEvent: queueOptions.durabel`, didYouMean: 'durable' },
    ]);
    expect(error.problems).toContain(`connection 'default': handler Handlers.onEvent: prefetch must be a number (got '5')`);
    // Nothing was declared for a handler whose options were refused.
    expect(await apps.admin.queueExists(queue)).toBe(false);
  });

  it('module-level handler overrides are checked like decorator options', async () => {
    const queue = uniqueName('validation-override');
    @Injectable()
    class Handlers {
      @RabbitSubscribe({ name: 'orders', queue })
      onEvent(): void {}
    }
    const error = await startupError({
      imports: [RabbitMQModule.forRoot(hostile({ uri: AMQP_URL, handlers: { orders: { errorBehaviour: 'ack' } } }))],
      providers: [Handlers],
    });
    expect(error.unknownOptions).toEqual([{ path: `connection 'default': handlers.orders.errorBehaviour`, didYouMean: 'errorBehavior' }]);
    expect(await apps.admin.queueExists(queue)).toBe(false);
  });

  it('a bad application fails on its own: a running one keeps consuming every message, once', async () => {
    const exchange = uniqueName('validation-good');
    const queue = uniqueName('validation-good');
    apps.admin.track('exchange', exchange);
    apps.admin.track('queue', queue);
    const received: number[] = [];
    @Injectable()
    class Good {
      @RabbitSubscribe({ exchange, routingKey: 'n', queue })
      on(message: { n: number }): void {
        received.push(message.n);
      }
    }
    @Module({ imports: [RabbitMQModule.forRoot({ uri: AMQP_URL, exchanges: [{ name: exchange, type: 'topic' }] })], providers: [Good] })
    class GoodApp {}
    const good = await apps.boot({ imports: [GoodApp] });
    const amqp = good.get(AmqpConnection);

    const traffic = (async () => {
      for (let n = 0; n < 100; n++) await amqp.publish(exchange, 'n', { n });
    })();
    const badQueue = uniqueName('validation-bad');
    @Injectable()
    class Bad {
      @RabbitSubscribe({ exchange, routingKey: 'n', queue: badQueue, errorBehavior: 'retry-forever' } as unknown as RabbitHandlerConfig)
      on(): void {}
    }
    const error = await startupError({ imports: [RabbitMQModule.forRoot({ uri: AMQP_URL })], providers: [Bad] });
    expect(error.problems[0]).toMatch(/errorBehavior must be one of .* \(got 'retry-forever'\)/);
    await traffic;
    await waitFor(() => received.length === 100, 'every message of the good application');
    expect(new Set(received).size).toBe(100);
    expect(await apps.admin.queueExists(badQueue)).toBe(false);
  });
});
