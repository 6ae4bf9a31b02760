import { Injectable } from '@nestjs/common';
import { InvalidOptionsError } from '../errors/invalid-options.error';
import { UnknownConnectionError } from '../errors/unknown-connection.error';
import { DEFAULT_CONNECTION_NAME } from '../options/resolve-options';
import type { AmqpConnection } from './amqp-connection';

/** Every RabbitMQ connection of this application, by name. One per application, never static. */
@Injectable()
export class AmqpConnectionRegistry {
  private readonly connections = new Map<string, AmqpConnection>();

  /** The connection with this name. Throws UnknownConnectionError, listing the known names, when there is none. */
  get(name: string = DEFAULT_CONNECTION_NAME): AmqpConnection {
    const connection = this.connections.get(name);
    if (!connection) throw new UnknownConnectionError(name, [...this.connections.keys()]);
    return connection;
  }

  has(name: string): boolean {
    return this.connections.has(name);
  }

  getAll(): AmqpConnection[] {
    return [...this.connections.values()];
  }

  /** The connection with this name, or undefined (golevelup's AmqpConnectionManager.getConnection). */
  getConnection(name: string): AmqpConnection | undefined {
    return this.connections.get(name);
  }

  /** Every connection (golevelup's AmqpConnectionManager.getConnections). */
  getConnections(): AmqpConnection[] {
    return this.getAll();
  }

  /** @internal */
  add(connection: AmqpConnection): void {
    if (this.connections.has(connection.name)) {
      throw new InvalidOptionsError([`Two RabbitMQ connections are named '${connection.name}'. Give each forRoot a distinct name.`]);
    }
    this.connections.set(connection.name, connection);
  }

  /** @internal */
  remove(connection: AmqpConnection): void {
    if (this.connections.get(connection.name) === connection) this.connections.delete(connection.name);
  }
}
