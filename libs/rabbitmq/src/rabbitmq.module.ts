import { Module, type DynamicModule, type InjectionToken, type ModuleMetadata, type OptionalFactoryDependency, type Provider, type Type } from '@nestjs/common';
import { AmqpConnection } from './facade/amqp-connection';
import { AmqpConnectionRegistry } from './facade/amqp-connection.registry';
import { InvalidOptionsError } from './errors/invalid-options.error';
import type { RabbitMQModuleOptions } from './options/rabbitmq-options.interface';
import { DEFAULT_CONNECTION_NAME, resolveOptions } from './options/resolve-options';
import { RabbitMQCoreModule } from './rabbitmq-core.module';
import { getConnectionToken, getOptionsToken } from './rabbitmq.tokens';
import { installFeatures } from './features';

/** Builds options for `forRootAsync({ useClass })` / `useExisting`. */
export interface RabbitMQOptionsFactory {
  createRabbitMQOptions(): RabbitMQModuleOptions | Promise<RabbitMQModuleOptions>;
}

/** golevelup's options factory: `create()` instead of `createRabbitMQOptions()`. Accepted by useClass / useExisting too. */
export interface GolevelupOptionsFactory {
  create(): RabbitMQModuleOptions | Promise<RabbitMQModuleOptions>;
}

/** `forRoot` options: one connection, plus whether the module is global. */
export interface RabbitMQModuleRootOptions extends RabbitMQModuleOptions {
  /** Register the module globally so every module can inject the connection. @default true */
  global?: boolean;
}

/** `forRootAsync` options. The name is given here, outside the factory, so the connection's token is known up front. */
export interface RabbitMQModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  /** @default 'default' */
  name?: string;
  /** @default true */
  global?: boolean;
  useFactory?: (...args: any[]) => RabbitMQModuleOptions | Promise<RabbitMQModuleOptions>;
  inject?: Array<InjectionToken | OptionalFactoryDependency>;
  useClass?: Type<RabbitMQOptionsFactory | GolevelupOptionsFactory>;
  useExisting?: Type<RabbitMQOptionsFactory | GolevelupOptionsFactory>;
}

/**
 * The RabbitMQ module. One `forRoot` per connection; each is global by default.
 *
 * @example
 * ```ts
 * RabbitMQModule.forRoot({ uri: process.env.AMQP_URL, exchanges: [{ name: 'orders', type: 'topic' }] })
 * ```
 */
@Module({})
export class RabbitMQModule {
  /**
   * One connection. golevelup's older form, `forRoot(RabbitMQModule, options)`, is accepted too; and, as
   * there, `undefined` options register no connection (AmqpConnection is then injected as `undefined`).
   */
  static forRoot(options: RabbitMQModuleRootOptions): DynamicModule;
  static forRoot(module: typeof RabbitMQModule, options: RabbitMQModuleRootOptions | undefined): DynamicModule;
  static forRoot(first: RabbitMQModuleRootOptions | typeof RabbitMQModule, second?: RabbitMQModuleRootOptions): DynamicModule {
    const options = typeof first === 'function' ? second : first;
    if (options === undefined) {
      return {
        module: RabbitMQModule,
        global: true,
        imports: [RabbitMQCoreModule],
        providers: [{ provide: getConnectionToken(), useValue: undefined }],
        exports: [getConnectionToken()],
      };
    }
    const { global, ...connectionOptions } = options;
    const name = options.name ?? DEFAULT_CONNECTION_NAME;
    return this.build(name, global ?? true, [{ provide: getOptionsToken(name), useValue: connectionOptions }], []);
  }

  static forRootAsync(options: RabbitMQModuleAsyncOptions): DynamicModule;
  static forRootAsync(module: typeof RabbitMQModule, options: RabbitMQModuleAsyncOptions): DynamicModule;
  static forRootAsync(first: RabbitMQModuleAsyncOptions | typeof RabbitMQModule, second?: RabbitMQModuleAsyncOptions): DynamicModule {
    const options = (typeof first === 'function' ? second : first) ?? {};
    const name = options.name ?? DEFAULT_CONNECTION_NAME;
    const providers: Provider[] = [];
    if (options.useFactory) {
      providers.push({ provide: getOptionsToken(name), useFactory: options.useFactory, inject: options.inject ?? [] });
    } else {
      const factoryClass = options.useClass ?? options.useExisting;
      if (!factoryClass) {
        throw new InvalidOptionsError([`RabbitMQModule.forRootAsync for connection '${name}' needs useFactory, useClass or useExisting`]);
      }
      if (options.useClass) providers.push({ provide: options.useClass, useClass: options.useClass });
      providers.push({
        provide: getOptionsToken(name),
        useFactory: (factory: RabbitMQOptionsFactory | GolevelupOptionsFactory) =>
          'createRabbitMQOptions' in factory ? factory.createRabbitMQOptions() : factory.create(),
        inject: [factoryClass],
      });
    }
    return this.build(name, options.global ?? true, providers, options.imports ?? []);
  }

  /**
   * Makes a connection built outside Nest (`new AmqpConnection(options)`, golevelup's way) injectable and
   * runs the decorated handlers on it. The connection is connected here if `init()` has not been called,
   * and closed with the application.
   */
  static attach(connection: AmqpConnection, options: { global?: boolean } = {}): DynamicModule {
    const token = getConnectionToken(connection.name);
    const provider: Provider = {
      provide: token,
      useFactory: async (registry: AmqpConnectionRegistry): Promise<AmqpConnection> => {
        installFeatures(connection);
        registry.add(connection);
        if (connection.status === 'connecting' && !connection.isStarted) await connection.init();
        return connection;
      },
      inject: [AmqpConnectionRegistry],
    };
    return {
      module: RabbitMQModule,
      global: options.global ?? true,
      imports: [RabbitMQCoreModule],
      providers: [provider],
      exports: [token, RabbitMQCoreModule],
    };
  }

  private static build(name: string, global: boolean, optionProviders: Provider[], imports: NonNullable<ModuleMetadata['imports']>): DynamicModule {
    const token = getConnectionToken(name);
    const connectionProvider: Provider = {
      provide: token,
      useFactory: async (raw: RabbitMQModuleOptions, registry: AmqpConnectionRegistry): Promise<AmqpConnection> => {
        if (raw?.name !== undefined && raw.name !== name) {
          throw new InvalidOptionsError([
            `RabbitMQModule: the factory returned name '${raw.name}' but the module is registered as '${name}'; set the name in forRootAsync({ name })`,
          ]);
        }
        const connection = new AmqpConnection(resolveOptions({ ...raw, name }));
        installFeatures(connection);
        registry.add(connection);
        try {
          await connection.init();
        } catch (error) {
          // The application will not start: close the connections made so far too, so nothing keeps retrying.
          await Promise.all(registry.getAll().map((c) => c.close().catch(() => undefined)));
          for (const c of registry.getAll()) registry.remove(c);
          registry.remove(connection);
          throw error;
        }
        return connection;
      },
      inject: [getOptionsToken(name), AmqpConnectionRegistry],
    };
    return {
      module: RabbitMQModule,
      global,
      imports: [RabbitMQCoreModule, ...imports],
      providers: [...optionProviders, connectionProvider],
      exports: [token, getOptionsToken(name), RabbitMQCoreModule],
    };
  }
}
