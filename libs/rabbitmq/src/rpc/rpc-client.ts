import { randomBytes } from 'node:crypto';
import type { Channel, ConfirmChannel, ConsumeMessage, Message, Options } from 'amqplib';
import type { ConnectionHost } from '../connection/connection-host';
import type { ManagedChannel } from '../connection/managed-channel';
import { BrokerBlockedError } from '../errors/broker-blocked.error';
import { ConnectionClosedError } from '../errors/connection-closed.error';
import { MessageEncodingError } from '../errors/message-encoding.error';
import { PublishFailedError } from '../errors/publish-failed.error';
import { PublishNackedError } from '../errors/publish-nacked.error';
import { RpcRemoteError, type RemoteErrorPayload } from '../errors/rpc-remote.error';
import { RpcReplyInvalidError } from '../errors/rpc-reply-invalid.error';
import { RpcTimeoutError } from '../errors/rpc-timeout.error';
import { UnroutableMessageError } from '../errors/unroutable-message.error';
import { CallTable } from './call-table';
import { DeadlineSweeper } from '../publisher/deadline-sweeper';
import { UnsupportedOperationError } from '../errors/unsupported-operation.error';
import { findEncodingProblem } from '../publisher/publish-encoding';
import { publishRefusalOf, refusesTheExchange, type PublishRefusal } from '../publisher/publish-refusal';
import type { Serializer } from '../message/serializer';
import { WARREN_HEADERS } from '../message/warren-headers';

const REPLY_TO = 'amq.rabbitmq.reply-to';

interface PendingCall {
  id: string;
  exchange: string;
  routingKey: string;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  /** Set by the deadline sweeper. */
  deadline: number;
  done: boolean;
  /** The request's timeout, as reported. */
  timeoutMs: number;
  /** What the sweeper files it under: the time left when it was sent. */
  sweepMs: number;
  /** Runs when the call settles (closes a request's own channel). */
  cleanup: (() => void) | undefined;
}

/** How a first request of its kind went: accepted by the broker, refused (with the broker's code), or neither. */
type ProbeOutcome = { accepted: true } | { accepted: false; refusal?: PublishRefusal };

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
 * reply, return (no server bound), refusal, timeout, or connection loss — and
 * leaves no timer or map entry behind.
 *
 * One bad request never fails the others: a request that cannot be encoded is
 * rejected before it is sent, and the first request to an exchange (or with a new
 * `userId`) goes on a confirm channel of its own, since a refusal closes the channel
 * it came on and every reply due there would be lost. Once the broker accepted one,
 * requests of that kind share the main channel.
 */
export class RpcClient {
  /** Opened by the first request: an app that never calls request() opens no channel and no reply consumer for it. */
  private managed: ManagedChannel | undefined;
  private readonly prefix = randomBytes(6).toString('hex');
  private readonly pending = new CallTable<PendingCall>(this.prefix);
  /** Correlation ids given by callers, from request() until their call settles. */
  private readonly reserved = new Set<string>();
  private sequence = 0;
  /** Kinds of request (exchange and userId) the broker accepted on this connection. */
  private readonly proven = new Set<string>();
  /** First requests of a kind in flight on their own channel: the others of that kind wait for the outcome. */
  private readonly probes = new Map<string, Promise<ProbeOutcome>>();
  /** One timer for every call's timeout (late by at most its resolution), instead of a timer per call. */
  private readonly deadlines = new DeadlineSweeper<PendingCall>((call) =>
    this.settle(call.id, new RpcTimeoutError(call.exchange, call.routingKey, call.timeoutMs)),
  );

  constructor(
    private readonly host: ConnectionHost,
    private readonly connectionName: string,
    private readonly serializer: Serializer,
    /** false with golevelup's `enableDirectReplyTo: false`: no reply consumer, and request() is refused. */
    private readonly enabled = true,
  ) {}

  private get channel(): ManagedChannel {
    if (this.managed === undefined) {
      this.managed = this.host.createChannel('rpc-client', {
        confirm: false,
        onLost: () => this.failAll('while waiting for the reply; the request may or may not have been processed'),
      });
      void this.managed.addSetup(async (channel: Channel) => {
        channel.on('return', (message: Message) => this.onReturn(message));
        await channel.consume(REPLY_TO, (message) => message && this.onReply(message), { noAck: true });
      });
    }
    return this.managed;
  }

  /** Calls in flight. */
  get size(): number {
    return this.pending.size;
  }

  request(request: OutgoingRequest): Promise<unknown> {
    if (!this.enabled) {
      return Promise.reject(
        new UnsupportedOperationError(
          'AmqpConnection.request',
          `connection '${this.connectionName}' has enableDirectReplyTo: false, so no reply consumer; remove that option to make requests`,
        ),
      );
    }
    const { exchange, routingKey } = request;
    request.options.replyTo = REPLY_TO;
    const problem = findEncodingProblem(exchange, routingKey, request.content, request.options);
    if (problem) return Promise.reject(new MessageEncodingError(String(exchange), String(routingKey), problem.field, problem.valueType, problem.problem));
    const given = request.options.correlationId;
    if (given !== undefined && (this.pending.has(given) || this.reserved.has(given))) {
      return Promise.reject(
        new MessageEncodingError(
          exchange,
          routingKey,
          'correlationId',
          `'${given.slice(0, 40)}', which a request of this connection still waiting for its reply has`,
          'replies are matched by it, so each waiting request needs its own (leave it out for a fresh one)',
        ),
      );
    }
    if (given !== undefined) {
      // Held from now until the call settles, so that a second request with the same id is refused even before the first is sent.
      this.reserved.add(given);
      const sent = this.host.isBlocked ? this.waitWhileBlocked(request).then(() => this.route(request)) : this.route(request);
      return sent.finally(() => this.reserved.delete(given));
    }
    if (this.host.isBlocked) return this.waitWhileBlocked(request).then(() => this.route(request));
    return this.route(request);
  }

  private route(request: OutgoingRequest): Promise<unknown> {
    const kind = kindOf(request);
    if (!this.proven.has(kind)) return this.requestAlone(request, kind);
    return this.requestShared(request);
  }

  /**
   * The broker blocks publishers (memory or disk alarm) and would not read a request now:
   * wait for the alarm to clear, up to the request's timeout; the request is then not sent.
   */
  private waitWhileBlocked(request: OutgoingRequest): Promise<void> {
    const reason = this.host.blockedReason ?? 'blocked';
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        subscription.unsubscribe();
        reject(new BrokerBlockedError(request.exchange, request.routingKey, request.timeoutMs, this.host.blockedReason ?? reason, false));
      }, request.timeoutMs);
      const subscription = this.host.status$.subscribe((status) => {
        if (status === 'blocked') return;
        clearTimeout(timer);
        queueMicrotask(() => subscription.unsubscribe());
        resolve();
      });
    });
  }

  private requestShared(request: OutgoingRequest): Promise<unknown> {
    const channel = this.channel.channel;
    if (channel) return this.send(request, channel, request.timeoutMs);
    const { exchange, routingKey, timeoutMs } = request;
    const startedAt = Date.now();
    return this.channel.waitUntilOpen(timeoutMs).then(() => {
      const opened = this.channel.channel;
      if (!opened) throw new RpcTimeoutError(exchange, routingKey, timeoutMs);
      return this.send(request, opened, Math.max(1, timeoutMs - (Date.now() - startedAt)));
    });
  }

  /** Sends on the shared channel; the call times out `remainingMs` from now (reported as the request's whole timeout). */
  private send(request: OutgoingRequest, channel: Channel, remainingMs: number): Promise<unknown> {
    const { exchange, routingKey } = request;
    const given = request.options.correlationId;
    const id = given ?? `${this.prefix}.${++this.sequence}`;
    return new Promise((resolve, reject) => {
      this.track(given === undefined, {
        id,
        exchange,
        routingKey,
        resolve,
        reject,
        deadline: 0,
        done: false,
        timeoutMs: request.timeoutMs,
        sweepMs: remainingMs,
        cleanup: undefined,
      });
      request.options.correlationId = id;
      try {
        channel.publish(exchange, routingKey, request.content, request.options);
      } catch {
        this.settle(id, new ConnectionClosedError(this.connectionName, 'before the request was sent'));
      }
    });
  }

  private track(generated: boolean, call: PendingCall): void {
    this.pending.set(call, generated);
    this.deadlines.add(call, call.sweepMs);
  }

  /**
   * The first request of its kind: waits for one already in flight, then goes on the
   * shared channel if the broker accepted that one, or on a channel of its own.
   */
  private async requestAlone(request: OutgoingRequest, kind: string): Promise<unknown> {
    for (let inFlight = this.probes.get(kind); inFlight !== undefined; inFlight = this.probes.get(kind)) {
      const outcome = await inFlight;
      if (this.proven.has(kind)) return this.requestShared(request);
      if (!outcome.accepted && outcome.refusal && refusesTheExchange(outcome.refusal)) {
        throw new PublishFailedError(request.exchange, request.routingKey, outcome.refusal.code, outcome.refusal.text, false);
      }
    }
    let resolveProbe!: (outcome: ProbeOutcome) => void;
    const probe = new Promise<ProbeOutcome>((resolve) => (resolveProbe = resolve));
    // Out of the map before the waiters resume, so that they see the outcome, not this probe again.
    const report = (outcome: ProbeOutcome): void => {
      if (this.probes.get(kind) === probe) this.probes.delete(kind);
      resolveProbe(outcome);
    };
    this.probes.set(kind, probe);
    try {
      return await this.sendOnOwnChannel(request, kind, report);
    } finally {
      report({ accepted: false });
    }
  }

  /** Sends one request on a confirm channel of its own, kept open until the call settles. */
  private async sendOnOwnChannel(request: OutgoingRequest, kind: string, report: (outcome: ProbeOutcome) => void): Promise<unknown> {
    const { exchange, routingKey, timeoutMs } = request;
    // One deadline for the whole call: waiting for the (lazily opened) reply channel counts against it.
    const startedAt = Date.now();
    if (!this.channel.channel) await this.channel.waitUntilOpen(timeoutMs);
    const connection = this.host.connection;
    if (!connection) throw new RpcTimeoutError(exchange, routingKey, timeoutMs);
    let channel: ConfirmChannel;
    try {
      channel = await connection.createConfirmChannel();
    } catch {
      throw new ConnectionClosedError(this.connectionName, 'before the request was sent');
    }
    let refusal: PublishRefusal | undefined;
    channel.on('error', (error: unknown) => {
      refusal ??= publishRefusalOf(error);
    });
    channel.on('return', (message: Message) => this.onReturn(message));
    try {
      await channel.consume(REPLY_TO, (message) => message && this.onReply(message), { noAck: true });
    } catch {
      await channel.close().catch(() => undefined);
      throw new ConnectionClosedError(this.connectionName, 'before the request was sent');
    }
    const given = request.options.correlationId;
    const correlationId = given ?? `${this.prefix}.${++this.sequence}`;
    request.options.correlationId = correlationId;
    return new Promise((resolve, reject) => {
      const cleanup = (): void => void channel.close().catch(() => undefined);
      this.track(given === undefined, {
        id: correlationId,
        exchange,
        routingKey,
        resolve,
        reject,
        deadline: 0,
        done: false,
        timeoutMs,
        sweepMs: Math.max(1, timeoutMs - (Date.now() - startedAt)),
        cleanup,
      });
      channel.once('close', () => {
        if (refusal) {
          report({ accepted: false, refusal });
          this.settle(correlationId, new PublishFailedError(exchange, routingKey, refusal.code, refusal.text, true));
        } else {
          report({ accepted: false });
          this.settle(
            correlationId,
            new ConnectionClosedError(this.connectionName, 'while waiting for the reply; the request may or may not have been processed'),
          );
        }
      });
      try {
        channel.publish(exchange, routingKey, request.content, request.options, (error) => {
          if (error) {
            if (refusal === undefined) this.settle(correlationId, new PublishNackedError(exchange, routingKey));
            return;
          }
          this.proven.add(kind);
          report({ accepted: true });
        });
      } catch {
        this.settle(correlationId, new ConnectionClosedError(this.connectionName, 'before the request was sent'));
      }
    });
  }

  /** Rejects every call in flight (shutdown). */
  close(): void {
    this.failAll('before the reply arrived (shutting down)');
    this.deadlines.stop();
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
    call.done = true;
    this.deadlines.release(call.sweepMs);
    call.cleanup?.();
    if (error) call.reject(error);
    else call.resolve(value);
  }

  private failAll(what: string): void {
    if (this.pending.size === 0) return;
    const error = new ConnectionClosedError(this.connectionName, what);
    for (const id of this.pending.ids()) this.settle(id, error);
  }
}

/** What the broker checks a request by, beyond its body: the exchange, and the userId when set. */
function kindOf(request: OutgoingRequest): string {
  const userId = request.options.userId;
  return userId === undefined || userId === null ? request.exchange : `${request.exchange}\u0000${userId}`;
}

function toRemotePayload(value: unknown): RemoteErrorPayload {
  if (value !== null && typeof value === 'object') {
    const v = value as Partial<RemoteErrorPayload>;
    return { name: String(v.name ?? 'Error'), message: String(v.message ?? 'remote error'), code: v.code, data: v.data };
  }
  return { name: 'Error', message: String(value) };
}
