import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown, type OnModuleDestroy } from '@nestjs/common';
import type { AmqpConnection } from './facade/amqp-connection';
import { AmqpConnectionRegistry } from './facade/amqp-connection.registry';
import { settleWithin } from './connection/settle-within';
import { RabbitMQExplorer } from './discovery/rabbitmq.explorer';
import { InvalidOptionsError } from './errors/invalid-options.error';
import { DEFAULT_CONNECTION_NAME } from './options/resolve-options';
import type { RabbitHandlerConfig } from './options/rabbitmq-options.interface';
import { resolveHandlerConfig } from './options/golevelup-names';
import { toInvalidOptions } from './options/option-shape';
import type { DiscoveredHandler } from './discovery/rabbitmq.explorer';

/**
 * Starts and stops handlers for every connection of the application: after
 * every module is initialised, discovered handlers are registered on their
 * connections; on shutdown consumers are cancelled and drained first
 * (onModuleDestroy), connections closed last (onApplicationShutdown), so other
 * modules can still publish while they shut down.
 */
/** Options whose value is an object are merged one level deep, so an override changes only the fields it names. */
const MERGED_OBJECTS = ['queueOptions', 'retry', 'dedup', 'deadLetter', 'consumerOptions', 'bindingArguments'] as const;

/** A handler's decorator config with a module-level override on top. */
export function mergeHandlerConfig(config: RabbitHandlerConfig, override: Partial<RabbitHandlerConfig>): RabbitHandlerConfig {
  const merged: Record<string, unknown> = { ...config, ...override };
  for (const key of MERGED_OBJECTS) {
    const base = config[key];
    const top = override[key];
    if (isPlainObject(base) && isPlainObject(top)) merged[key] = { ...base, ...top };
  }
  return merged;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

@Injectable()
export class RabbitMQLifecycle implements OnApplicationBootstrap, OnModuleDestroy, OnApplicationShutdown {
  private readonly logger = new Logger('RabbitMQ');
  private stopped = false;

  constructor(
    private readonly registry: AmqpConnectionRegistry,
    private readonly explorer: RabbitMQExplorer,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    try {
      await this.startHandlers();
    } catch (error) {
      // Start-up fails: Nest will not call the shutdown hooks, so leave nothing connected or retrying.
      await this.closeAll();
      throw error;
    }
  }

  private async startHandlers(): Promise<void> {
    const connections = this.registry.getAll();
    if (connections.length === 0) return;
    const includeControllers = connections.some((c) => c.options.enableControllerDiscovery);
    const handlers = this.explorer.explore(includeControllers);
    const unknown = handlers.filter((h) => !this.registry.has(h.connection ?? DEFAULT_CONNECTION_NAME));
    if (unknown.length > 0) {
      throw new InvalidOptionsError(
        unknown.map(
          (h) =>
            `${h.name} uses connection '${h.connection ?? DEFAULT_CONNECTION_NAME}', which is not configured (known: ${connections.map((c) => c.name).join(', ')})`,
        ),
      );
    }
    const problems: string[] = [];
    const unknownOptions: Array<{ path: string; didYouMean?: string }> = [];
    for (const connection of connections) {
      const names = new Set(handlers.filter((h) => (h.connection ?? DEFAULT_CONNECTION_NAME) === connection.name).map((h) => h.name));
      for (const name of Object.keys(connection.options.handlers)) {
        if (!names.has(name) && name !== connection.options.defaultHandler) {
          problems.push(
            `connection '${connection.name}': handlers.${name} overrides no handler of this connection (known: ${[...names].join(', ') || 'none'})`,
          );
        }
      }
    }
    const resolved = new Map<AmqpConnection, DiscoveredHandler[]>();
    for (const connection of connections) {
      const mine = handlers
        .filter((h) => (h.connection ?? DEFAULT_CONNECTION_NAME) === connection.name)
        .map((h) => this.resolve(connection, h, problems, unknownOptions));
      resolved.set(connection, mine);
    }
    if (problems.length > 0) throw new InvalidOptionsError(problems, unknownOptions);
    await Promise.all(
      connections.filter((connection) => connection.options.registerHandlers).map((connection) => connection.registerHandlers(resolved.get(connection) ?? [])),
    );
  }

  /** A handler's options: decorator, module-level override (its own, or `defaultHandler`'s), checked and in Warren's names. */
  private resolve(
    connection: AmqpConnection,
    handler: DiscoveredHandler,
    problems: string[],
    unknownOptions: Array<{ path: string; didYouMean?: string }>,
  ): DiscoveredHandler {
    const { handlers, defaultHandler, serializer, defaultChannel, queues } = connection.options;
    const override = handlers[handler.name] ?? (defaultHandler === undefined ? undefined : handlers[defaultHandler]);
    const merged = override ? mergeHandlerConfig(handler.config, override) : handler.config;
    const queueConsumerTags = new Map(queues.filter((q) => q.consumerTag !== undefined).map((q) => [q.name, q.consumerTag as string]));
    const { config, problems: found } = resolveHandlerConfig(merged, { serializer, defaultChannel, queueConsumerTags });
    if (found.length > 0) {
      const report = toInvalidOptions(found, `connection '${connection.name}': handler ${handler.name}: `);
      problems.push(...report.messages);
      unknownOptions.push(...report.unknown);
    }
    return { ...handler, config };
  }

  async onModuleDestroy(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all(this.registry.getAll().map((connection) => this.stopConsumers(connection)));
  }

  /**
   * Cancelling a consumer waits for the broker's answer, which never comes while the broker
   * blocks the connection (it reads nothing from it until a memory or disk alarm clears): give
   * up after `shutdownTimeout` and go on to close, which ends the connection on time.
   */
  private async stopConsumers(connection: AmqpConnection): Promise<void> {
    const timeoutMs = connection.options.shutdownTimeout;
    const stopping = connection.stopConsumers();
    if (await settleWithin(stopping, timeoutMs)) return stopping;
    const blocked = connection.status === 'blocked' ? ' (the broker blocks the connection)' : '';
    this.logger.warn(`Connection '${connection.name}': consumers not stopped within ${timeoutMs} ms${blocked}; closing it anyway`);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.onModuleDestroy();
    await this.closeAll();
    this.logger.debug('RabbitMQ connections closed');
  }

  private async closeAll(): Promise<void> {
    await Promise.all(
      this.registry.getAll().map(async (connection) => {
        await connection.close();
        this.registry.remove(connection);
      }),
    );
  }
}
