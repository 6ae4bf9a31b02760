import { Module, type DynamicModule, type InjectionToken, type ModuleMetadata, type OptionalFactoryDependency, type Provider, type Type } from '@nestjs/common';
import { AmqpConnection } from './facade/amqp-connection';
import { AmqpConnectionRegistry } from './facade/amqp-connection.registry';
import { InvalidOptionsError } from './errors/invalid-options.error';
import type { RabbitMQModuleOptions } from './options/rabbitmq-options.interface';
import { DEFAULT_CONNECTION_NAME, resolveOptions } from './options/resolve-options';
import { RabbitMQCoreModule } from './rabbitmq-core.module';
import { getConnectionToken } from './rabbitmq.tokens';
import { installFeatures } from './features';

/** Builds options for `forRootAsync({ useClass })` / `useExisting`. */
export interface RabbitMQOptionsFactory {
  createRabbitMQOptions(): RabbitMQModuleOptions | Promise<RabbitMQModuleOptions>;
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
  useClass?: Type<RabbitMQOptionsFactory>;
  useExisting?: Type<RabbitMQOptionsFactory>;
}

const optionsToken = (name: string): string => `warren:options:${name}`;

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
  static forRoot(options: RabbitMQModuleRootOptions): DynamicModule {
    const { global, ...connectionOptions } = options;
    const name = options.name ?? DEFAULT_CONNECTION_NAME;
    return this.build(name, global ?? true, [{ provide: optionsToken(name), useValue: connectionOptions }], []);
  }

  static forRootAsync(options: RabbitMQModuleAsyncOptions): DynamicModule {
    const name = options.name ?? DEFAULT_CONNECTION_NAME;
    const providers: Provider[] = [];
    if (options.useFactory) {
      providers.push({ provide: optionsToken(name), useFactory: options.useFactory, inject: options.inject ?? [] });
    } else {
      const factoryClass = options.useClass ?? options.useExisting;
      if (!factoryClass) {
        throw new InvalidOptionsError([`RabbitMQModule.forRootAsync for connection '${name}' needs useFactory, useClass or useExisting`]);
      }
      if (options.useClass) providers.push({ provide: options.useClass, useClass: options.useClass });
      providers.push({
        provide: optionsToken(name),
        useFactory: (factory: RabbitMQOptionsFactory) => factory.createRabbitMQOptions(),
        inject: [factoryClass],
      });
    }
    return this.build(name, options.global ?? true, providers, options.imports ?? []);
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
      inject: [optionsToken(name), AmqpConnectionRegistry],
    };
    return {
      module: RabbitMQModule,
      global,
      imports: [RabbitMQCoreModule, ...imports],
      providers: [...optionProviders, connectionProvider],
      exports: [token, RabbitMQCoreModule],
    };
  }
}
