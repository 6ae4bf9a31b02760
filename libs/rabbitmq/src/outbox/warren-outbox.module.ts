import {
  Inject,
  Injectable,
  Module,
  type DynamicModule,
  type InjectionToken,
  type ModuleMetadata,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
  type OptionalFactoryDependency,
} from '@nestjs/common';
import type { AmqpConnection } from '../facade/amqp-connection';
import type { Serializer } from '../message/serializer';
import { DEFAULT_CONNECTION_NAME } from '../options/resolve-options';
import { getConnectionToken } from '../rabbitmq.tokens';
import { Outbox } from './outbox';
import type { OutboxOptions } from './outbox-options';
import { OutboxRelay } from './outbox-relay';
import type { OutboxPool } from './outbox-transaction';

/** `WarrenOutboxModule` options: where the outbox lives, how it is relayed. */
export interface WarrenOutboxModuleOptions extends OutboxOptions {
  /** The pool the relay reads the outbox with (a node-postgres `Pool`): one connection per batch, one more for LISTEN. */
  pool: OutboxPool;
  /** Run the relay in this application. Turn it off in processes that only write (another process relays). @default true */
  relay?: boolean;
  /** The serializer of the payloads written. @default JSON */
  serializer?: Serializer;
  /** NOTIFY the relays at each commit (see `OutboxWriterOptions.notify`). @default true */
  notify?: boolean;
}

export interface WarrenOutboxModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  /** The RabbitMQ connection the relay publishes on (given here: its token must be known up front). @default 'default' */
  connection?: string;
  // Nest's own factory signature.

  useFactory: (...args: any[]) => WarrenOutboxModuleOptions | Promise<WarrenOutboxModuleOptions>;
  inject?: Array<InjectionToken | OptionalFactoryDependency>;
}

const OUTBOX_MODULE_OPTIONS = 'warren:outbox:options';

/** Starts the relay once the application is up, stops it before the connections close. */
@Injectable()
class OutboxRelayLifecycle implements OnApplicationBootstrap, OnModuleDestroy {
  constructor(
    private readonly relay: OutboxRelay,
    @Inject(OUTBOX_MODULE_OPTIONS) private readonly options: WarrenOutboxModuleOptions,
  ) {}

  onApplicationBootstrap(): void {
    if (this.options.relay ?? true) this.relay.start();
  }

  // onModuleDestroy runs before RabbitMQModule closes its connections (onApplicationShutdown): the batch in flight settles first.
  async onModuleDestroy(): Promise<void> {
    await this.relay.stop();
  }
}

/**
 * The transactional outbox for Nest: provides `Outbox` (write messages inside your transaction)
 * and `OutboxRelay` (started with the application; backlog, parked rows, replay). Import it
 * next to `RabbitMQModule`; it is global. The table is not created here: apply the migration
 * (`applyOutboxMigration`) in your deploy step.
 */
@Module({})
export class WarrenOutboxModule {
  static forRoot(options: WarrenOutboxModuleOptions & { connection?: string }): DynamicModule {
    const { connection, ...rest } = options;
    return this.build(connection ?? DEFAULT_CONNECTION_NAME, [{ provide: OUTBOX_MODULE_OPTIONS, useValue: rest }], []);
  }

  static forRootAsync(options: WarrenOutboxModuleAsyncOptions): DynamicModule {
    return this.build(
      options.connection ?? DEFAULT_CONNECTION_NAME,
      [{ provide: OUTBOX_MODULE_OPTIONS, useFactory: options.useFactory, inject: options.inject ?? [] }],
      options.imports ?? [],
    );
  }

  private static build(
    connection: string,
    optionProviders: DynamicModule['providers'] & object,
    imports: NonNullable<ModuleMetadata['imports']>,
  ): DynamicModule {
    return {
      module: WarrenOutboxModule,
      global: true,
      imports,
      providers: [
        ...optionProviders,
        {
          provide: OutboxRelay,
          useFactory: (options: WarrenOutboxModuleOptions, amqp: AmqpConnection) => new OutboxRelay(options.pool, amqp, options),
          inject: [OUTBOX_MODULE_OPTIONS, getConnectionToken(connection)],
        },
        {
          provide: Outbox,
          useFactory: (options: WarrenOutboxModuleOptions, amqp: AmqpConnection) =>
            new Outbox({ table: options.table, serializer: options.serializer, connection: amqp, notify: options.notify }),
          inject: [OUTBOX_MODULE_OPTIONS, getConnectionToken(connection)],
        },
        OutboxRelayLifecycle,
      ],
      exports: [Outbox, OutboxRelay],
    };
  }
}
