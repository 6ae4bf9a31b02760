import { Inject } from '@nestjs/common';
import { AmqpConnection } from './facade/amqp-connection';
import { DEFAULT_CONNECTION_NAME } from './options/resolve-options';

/** The injection token of a connection: the `AmqpConnection` class for the default one, a string for named ones. */
export function getConnectionToken(name: string = DEFAULT_CONNECTION_NAME): string | typeof AmqpConnection {
  return name === DEFAULT_CONNECTION_NAME ? AmqpConnection : `warren:amqp-connection:${name}`;
}

/** Injects the connection with this name: `constructor(@InjectAmqpConnection('analytics') amqp: AmqpConnection)`. */
export function InjectAmqpConnection(name: string = DEFAULT_CONNECTION_NAME): ParameterDecorator & PropertyDecorator {
  return Inject(getConnectionToken(name));
}

/** The injection token of a connection's options, as given to forRoot (or returned by forRootAsync's factory). */
export function getOptionsToken(name: string = DEFAULT_CONNECTION_NAME): string {
  return `warren:options:${name}`;
}

/** golevelup's token of the default connection's options. */
export const RABBIT_CONFIG_TOKEN = getOptionsToken();

/** Injects a connection's options as given (golevelup's `@InjectRabbitMQConfig()`; named connections: pass the name). */
export function InjectRabbitMQConfig(name: string = DEFAULT_CONNECTION_NAME): ParameterDecorator & PropertyDecorator {
  return Inject(getOptionsToken(name));
}
