import { ClientProxy, type MsPattern, type ReadPacket, type WritePacket } from '@nestjs/microservices';
import { AmqpConnection } from '../facade/amqp-connection';
import { RpcRemoteError } from '../errors/rpc-remote.error';
import { TransportNotReadyError } from '../errors/transport-not-ready.error';
import { resolveOptions } from '../options/resolve-options';
import { DEFAULT_TRANSPORT_EXCHANGE, transportExchanges, type WarrenTransportOptions } from './warren-transport.options';

/** WarrenClient options: a connection, the exchange, and the request timeout. */
export interface WarrenClientOptions extends WarrenTransportOptions {
  /** ms `send()` waits for a reply. @default the connection's defaultRpcTimeout (10000) */
  timeout?: number;
}

/**
 * A Nest `ClientProxy` on Warren: `send()` is a request over direct reply-to with
 * a timeout; `emit()` publishes with confirms — its Observable completes on the
 * broker's confirm and errors on nack, timeout or an unroutable event.
 *
 * @example
 * ```ts
 * ClientsModule.register([{ name: 'ORDERS', customClass: WarrenClient, options: { uri: process.env.AMQP_URL } }])
 * ```
 */
export class WarrenClient extends ClientProxy {
  private connection?: AmqpConnection;
  private connecting?: Promise<AmqpConnection>;
  private readonly exchange: string;

  constructor(private readonly options: WarrenClientOptions) {
    super();
    this.exchange = options.exchange ?? DEFAULT_TRANSPORT_EXCHANGE;
  }

  connect(): Promise<AmqpConnection> {
    if (this.connection) return Promise.resolve(this.connection);
    this.connecting ??= (async () => {
      const connection = new AmqpConnection(
        resolveOptions({
          // The transport's own key is not a connection option (every connection option is checked for unknown keys).
          ...withoutTransportKeys(this.options),
          name: 'microservices-client',
          exchanges: [...transportExchanges(this.exchange), ...(this.options.exchanges ?? [])],
        }),
      );
      try {
        await connection.init();
      } catch (error) {
        this.connecting = undefined;
        throw error;
      }
      this.connection = connection;
      return connection;
    })();
    return this.connecting;
  }

  async close(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    this.connecting = undefined;
    await connection?.close();
  }

  unwrap<T>(): T {
    if (!this.connection) throw new TransportNotReadyError('WarrenClient');
    return this.connection as T;
  }

  protected publish(packet: ReadPacket, callback: (packet: WritePacket) => void): () => void {
    const pattern = this.normalizePattern(packet.pattern as MsPattern);
    this.connect()
      .then((connection) =>
        connection.request({ exchange: this.exchange, routingKey: pattern, payload: packet.data as unknown, timeout: this.options.timeout }),
      )
      .then(
        (response) => callback({ response, isDisposed: true }),
        (error: unknown) => callback({ err: toNestError(error), isDisposed: true }),
      );
    // A request cannot be recalled once sent; its reply is dropped if nobody listens.
    return () => undefined;
  }

  protected async dispatchEvent<T = unknown>(packet: ReadPacket): Promise<T> {
    const connection = await this.connect();
    await connection.publish(this.exchange, this.normalizePattern(packet.pattern as MsPattern), packet.data);
    return undefined as T;
  }
}

/**
 * Nest's RPC errors are plain objects (`{ status: 'error', message }`, or an
 * RpcException's payload); a server that sent one gets the same object back
 * here. Other remote errors stay Warren's typed RpcRemoteError.
 */
function toNestError(error: unknown): unknown {
  if (error instanceof RpcRemoteError && error.data !== null && typeof error.data === 'object' && !Array.isArray(error.data)) {
    return error.data;
  }
  return error;
}

function withoutTransportKeys(options: WarrenClientOptions): Omit<WarrenClientOptions, 'exchange' | 'timeout'> {
  const { exchange: _exchange, timeout: _timeout, ...connectionOptions } = options;
  return connectionOptions;
}
