import { randomBytes } from 'node:crypto';
import type { Channel, ConsumeMessage, Message, Options } from 'amqplib';
import type { ConnectionHost } from '../connection/connection-host';
import type { ManagedChannel } from '../connection/managed-channel';
import { ConnectionClosedError } from '../errors/connection-closed.error';
import { RpcRemoteError, type RemoteErrorPayload } from '../errors/rpc-remote.error';
import { RpcReplyInvalidError } from '../errors/rpc-reply-invalid.error';
import { RpcTimeoutError } from '../errors/rpc-timeout.error';
import { UnroutableMessageError } from '../errors/unroutable-message.error';
import type { Serializer } from '../publisher/serializer';
import { WARREN_HEADERS } from '../rabbitmq.constants';

const REPLY_TO = 'amq.rabbitmq.reply-to';

interface PendingCall {
  exchange: string;
  routingKey: string;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/** A request ready to send: body and properties built by the caller. */
export interface OutgoingRequest {
  exchange: string;
  routingKey: string;
  content: Buffer;
  options: Options.Publish;
  timeoutMs: number;
}

/**
 * Requests over direct reply-to: one channel consumes `amq.rabbitmq.reply-to`
 * and publishes every request (the broker requires both on the same channel).
 * Calls are matched by correlation id; each settles exactly once — reply, error
 * reply, return (no server bound), timeout, or connection loss — and leaves no
 * timer or map entry behind.
 */
export class RpcClient {
  private readonly channel: ManagedChannel;
  private readonly pending = new Map<string, PendingCall>();
  private readonly prefix = randomBytes(6).toString('hex');
  private sequence = 0;

  constructor(
    host: ConnectionHost,
    private readonly connectionName: string,
    private readonly serializer: Serializer,
  ) {
    this.channel = host.createChannel('rpc-client', {
      confirm: false,
      onLost: () => this.failAll('while waiting for the reply; the request may or may not have been processed'),
    });
    void this.channel.addSetup(async (channel: Channel) => {
      channel.on('return', (message: Message) => this.onReturn(message));
      await channel.consume(REPLY_TO, (message) => message && this.onReply(message), { noAck: true });
    });
  }

  /** Calls in flight. */
  get size(): number {
    return this.pending.size;
  }

  async request(request: OutgoingRequest): Promise<unknown> {
    const { exchange, routingKey, timeoutMs } = request;
    const startedAt = Date.now();
    let channel = this.channel.channel;
    if (!channel) {
      await this.channel.waitUntilOpen(timeoutMs);
      channel = this.channel.channel;
      if (!channel) throw new RpcTimeoutError(exchange, routingKey, timeoutMs);
    }
    const remaining = Math.max(1, timeoutMs - (Date.now() - startedAt));
    const correlationId = `${this.prefix}.${++this.sequence}`;
    const sendChannel = channel;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.pending.delete(correlationId)) reject(new RpcTimeoutError(exchange, routingKey, timeoutMs));
      }, remaining);
      this.pending.set(correlationId, { exchange, routingKey, resolve, reject, timer });
      request.options.correlationId = correlationId;
      request.options.replyTo = REPLY_TO;
      try {
        sendChannel.publish(exchange, routingKey, request.content, request.options);
      } catch (error) {
        this.settle(correlationId, new ConnectionClosedError(this.connectionName, 'before the request was sent'));
      }
    });
  }

  /** Rejects every call in flight (shutdown). */
  close(): void {
    this.failAll('before the reply arrived (shutting down)');
  }

  private onReply(message: ConsumeMessage): void {
    const id = message.properties.correlationId as string | undefined;
    if (id === undefined) return;
    const call = this.pending.get(id);
    if (!call) return;
    let value: unknown;
    try {
      value = this.serializer.deserialize(message.content, message.properties.contentType as string | undefined);
    } catch (error) {
      this.settle(id, new RpcReplyInvalidError(call.routingKey, error));
      return;
    }
    const headers = message.properties.headers;
    if (headers !== undefined && headers[WARREN_HEADERS.rpcStatus] === 'error') {
      this.settle(id, new RpcRemoteError(call.routingKey, toRemotePayload(value)));
      return;
    }
    this.settle(id, undefined, value);
  }

  private onReturn(message: Message): void {
    const id = message.properties.correlationId as string | undefined;
    if (id === undefined) return;
    const call = this.pending.get(id);
    if (!call) return;
    const replyText = (message.fields as { replyText?: string }).replyText ?? 'NO_ROUTE';
    this.settle(id, new UnroutableMessageError(call.exchange, call.routingKey, replyText));
  }

  private settle(id: string, error: Error | undefined, value?: unknown): void {
    const call = this.pending.get(id);
    if (!call) return;
    this.pending.delete(id);
    clearTimeout(call.timer);
    if (error) call.reject(error);
    else call.resolve(value);
  }

  private failAll(what: string): void {
    if (this.pending.size === 0) return;
    const error = new ConnectionClosedError(this.connectionName, what);
    for (const id of [...this.pending.keys()]) this.settle(id, error);
  }
}

function toRemotePayload(value: unknown): RemoteErrorPayload {
  if (value !== null && typeof value === 'object') {
    const v = value as Partial<RemoteErrorPayload>;
    return { name: String(v.name ?? 'Error'), message: String(v.message ?? 'remote error'), code: v.code, data: v.data };
  }
  return { name: 'Error', message: String(value) };
}
