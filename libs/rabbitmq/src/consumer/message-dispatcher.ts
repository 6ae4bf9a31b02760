import { Logger } from '@nestjs/common';
import type { Channel, ConsumeMessage } from 'amqplib';
import { MessageDeserializationError } from '../errors/message-deserialization.error';
import { MessageTooLargeError } from '../errors/message-too-large.error';
import { NoHandlerError } from '../errors/no-handler.error';
import { RpcReplySerializationError } from '../errors/rpc-reply-serialization.error';
import type { ConsumeOutcome } from '../options/telemetry.interface';
import { attemptOf, exchangeOf, routingKeyOf } from '../message/message-headers';
import { WARREN_HEADERS } from '../message/warren-headers';
import { encodeRemoteErrorBody } from '../rpc/remote-error-codec';
import type { DedupTicket } from './dedup-guard';
import type { DeliveryTelemetry } from './delivery-telemetry';
import { ACK, REJECT, REQUEUE, type FailureStrategy, type Settlement } from './failure-strategy';
import type { HandlerRoute } from './handler-route';
import { Nack } from './nack';
import { errorText } from '../errors/error-text';
import { isPermanent } from '../errors/permanent-failure';

/** What the dispatcher needs from the consumer a message came from. */
export interface DispatchSource {
  readonly queue: string;
  route(routingKey: string): HandlerRoute | undefined;
  /** Used when no handler matches: usually dead-letters. */
  readonly fallbackFailure: FailureStrategy;
  /** Whether a delivery that came on `channel` is still wanted: false once the consumer is stopping or cancelled, or that channel closed. */
  accepts(channel: Channel): boolean;
  /** Whether `channel` has closed: its deliveries can no longer be settled, and the broker redelivers them. */
  hasClosed(channel: Channel): boolean;
  /**
   * Puts a fresh copy of a delivery on this queue and resolves on the broker's confirm; undefined where a
   * requeue costs nothing. A quorum queue counts every requeue against its delivery limit (20 unless set,
   * from RabbitMQ 4.0), so a delivery that only waited would end dead-lettered, or dropped, unprocessed.
   */
  readonly requeueCopy?: (message: ConsumeMessage) => Promise<void>;
}

const EMPTY_HEADERS: Record<string, unknown> = Object.freeze({});
const REPLIED_ERROR: Settlement = { action: 'ack', outcome: 'replied-error' };

/**
 * The one place that acks and nacks. Every delivery goes: size check →
 * deserialize → dedup claim → handler → settle. Failures are handed to the
 * route's FailureStrategy (retry, dead-letter, requeue or drop) and settled
 * here; a failed RPC request is answered with the error instead, so its caller
 * learns at once. An ack on a channel that has since closed is dropped quietly —
 * the broker redelivers and dedup absorbs it.
 *
 * Every delivery is settled exactly once, whatever user code (handlers, dedup
 * keys, serializers, telemetry hooks) throws: each path ends in `settle()`, which
 * never throws, and a guard around each path turns anything thrown before it into
 * a failure of that delivery.
 */
export class MessageDispatcher {
  private readonly logger = new Logger(MessageDispatcher.name);

  constructor(
    private readonly maxMessageSize: number,
    private readonly connectionName: string,
    private readonly telemetry: DeliveryTelemetry | undefined,
  ) {}

  /** Never throws, and the promise never rejects: the delivery is settled (or given back) when it resolves. */
  dispatch(source: DispatchSource, channel: Channel, message: ConsumeMessage): Promise<ConsumeOutcome> {
    let route: HandlerRoute | undefined;
    try {
      const own: Record<string, unknown> | undefined = message.properties.headers;
      const headers = own ?? EMPTY_HEADERS;
      const routingKey = routingKeyOf(message);
      route = source.route(routingKey);
      if (this.telemetry === undefined) return this.process(source, route, routingKey, headers, channel, message);
      const messageId = message.properties.messageId as unknown;
      const info = {
        connection: this.connectionName,
        queue: source.queue,
        handler: route?.descriptor.name,
        exchange: exchangeOf(message),
        routingKey,
        messageId: typeof messageId === 'string' ? messageId : undefined,
        headers,
        attempt: attemptOf(message),
      };
      const found = route;
      // The hub runs `process` exactly once whatever its hooks do, and never rejects.
      return this.telemetry.consume(info, () => this.process(source, found, routingKey, headers, channel, message));
    } catch (error) {
      // Nothing ran yet, so nothing was settled.
      return this.rescue(source, route, channel, message, error);
    }
  }

  private async process(
    source: DispatchSource,
    route: HandlerRoute | undefined,
    routingKey: string,
    headers: Record<string, unknown>,
    channel: Channel,
    message: ConsumeMessage,
  ): Promise<ConsumeOutcome> {
    try {
      if (route === undefined) {
        return await this.fail(source, undefined, channel, message, new NoHandlerError(source.queue, routingKey), source.fallbackFailure);
      }
      if (message.content.length > this.maxMessageSize) {
        const error = new MessageTooLargeError(message.content.length, this.maxMessageSize, `received on queue '${source.queue}'`);
        return await this.reject(source, route, channel, message, error);
      }
      let payload: unknown;
      try {
        payload = route.serializer.deserialize(message.content, message.properties.contentType as string | undefined);
      } catch (cause) {
        if (route.allowNonJson) payload = message.content;
        else {
          const error = new MessageDeserializationError(source.queue, message.properties.contentType as string | undefined, cause);
          return await this.reject(source, route, channel, message, error);
        }
      }

      let ticket: DedupTicket | undefined;
      if (route.dedup !== undefined) {
        // Throws (DedupKeyError) when the key cannot be computed: the guard below fails the message.
        const decision = await route.dedup.begin(message, payload, () => source.accepts(channel));
        if (!decision.run) {
          return decision.settlement.action === 'give-back'
            ? await this.giveBack(source, channel, message)
            : this.settle(channel, message, decision.settlement);
        }
        ticket = decision.ticket;
      }

      let result: unknown;
      try {
        result = await this.invoke(route, payload, message, headers);
      } catch (error) {
        if (ticket !== undefined) await this.release(route, ticket);
        return await this.reject(source, route, channel, message, error);
      }

      if (result instanceof Nack) {
        route.stats.failed++;
        if (ticket !== undefined) await this.release(route, ticket);
        return this.settle(channel, message, result.requeue ? REQUEUE : REJECT);
      }
      let settlement = ACK;
      if (route.descriptor.kind === 'rpc' && message.properties.replyTo) {
        let body: Buffer | undefined;
        try {
          body = route.serializer.serialize(result);
        } catch (cause) {
          // The handler ran; its caller gets an error at once rather than a timeout.
          route.stats.failed++;
          this.replyError(channel, message, route, new RpcReplySerializationError(route.descriptor.name, cause));
          settlement = REPLIED_ERROR;
        }
        if (body !== undefined) {
          route.stats.handled++;
          this.reply(channel, message, body, route.serializer.contentType, false);
        }
      } else {
        route.stats.handled++;
      }
      if (ticket !== undefined) {
        try {
          await route.dedup?.succeeded(ticket);
        } catch (error) {
          // The side effect happened; a redelivery may now run twice. Say so rather than hide it.
          this.logger.warn(`${route.descriptor.name}: could not record completion of ${ticket.key}: ${errorText(error)}`);
        }
      }
      return this.settle(channel, message, settlement);
    } catch (error) {
      // Every path above ends in settle(), which never throws: whatever threw did so before the delivery was settled.
      // A dedup claim taken before is left to its lease.
      return this.rescue(source, route, channel, message, error);
    }
  }

  /** Runs the handler, re-running it in process while the route's immediate-retry rule allows. */
  private async invoke(route: HandlerRoute, payload: unknown, message: ConsumeMessage, headers: Record<string, unknown>): Promise<unknown> {
    for (let failures = 1; ; failures++) {
      try {
        return await route.descriptor.invoke(payload, message, headers);
      } catch (error) {
        if (route.retryImmediately === undefined || isPermanent(error) || !route.retryImmediately(error, failures)) throw error;
      }
    }
  }

  /** A failed delivery of a known route: an RPC request is answered with the error; anything else goes to the route's FailureStrategy. */
  private reject(
    source: DispatchSource,
    route: HandlerRoute,
    channel: Channel,
    message: ConsumeMessage,
    error: unknown,
  ): Promise<ConsumeOutcome> | ConsumeOutcome {
    if (route.descriptor.kind === 'rpc' && message.properties.replyTo) {
      route.stats.failed++;
      this.replyError(channel, message, route, error);
      return this.settle(channel, message, REPLIED_ERROR);
    }
    return this.fail(source, route, channel, message, error, route.failure);
  }

  /** Something threw before the delivery was settled: fail it like a handler error, and if even that throws, reject it. */
  private async rescue(
    source: DispatchSource,
    route: HandlerRoute | undefined,
    channel: Channel,
    message: ConsumeMessage,
    error: unknown,
  ): Promise<ConsumeOutcome> {
    try {
      return await (route === undefined
        ? this.fail(source, undefined, channel, message, error, source.fallbackFailure)
        : this.reject(source, route, channel, message, error));
    } catch (secondError) {
      this.logger.error(`${route?.descriptor.name ?? `queue '${source.queue}'`}: could not fail a delivery (${errorText(secondError)}); it is rejected`);
      return this.settle(channel, message, REJECT);
    }
  }

  private async fail(
    source: DispatchSource,
    route: HandlerRoute | undefined,
    channel: Channel,
    message: ConsumeMessage,
    error: unknown,
    strategy: FailureStrategy,
  ): Promise<ConsumeOutcome> {
    if (route !== undefined) route.stats.failed++;
    if (source.hasClosed(channel)) {
      // The broker redelivers it: parking it too (retry or dead-letter queue) would leave two copies.
      this.logger.debug(`${route?.descriptor.name ?? source.queue}: a failed delivery's channel has closed; it is left to its redelivery`);
      return REQUEUE.outcome;
    }
    let settlement: Settlement;
    try {
      settlement = await strategy.onFailure({ queue: source.queue, route, message, error });
    } catch (strategyError) {
      // Could not park the message (wait queue or dead-letter queue unreachable): keep it on its queue.
      this.logger.error(
        `${route?.descriptor.name ?? source.queue}: could not retry or dead-letter a failed message; it is requeued: ${errorText(strategyError)}`,
      );
      await new Promise((resolve) => setTimeout(resolve, 1000));
      settlement = REQUEUE;
    }
    return this.settle(channel, message, settlement);
  }

  private async release(route: HandlerRoute, ticket: DedupTicket): Promise<void> {
    try {
      await route.dedup?.failed(ticket);
    } catch (error) {
      this.logger.debug(`${route.descriptor.name}: dedup release of ${ticket.key} failed (its lease expires): ${errorText(error)}`);
    }
  }

  /** Sends `error` to the caller; never throws (an error that cannot be encoded whole still sends its name, message and code). */
  private replyError(channel: Channel, message: ConsumeMessage, route: HandlerRoute, error: unknown): void {
    const encoded = encodeRemoteErrorBody(route.serializer, error);
    if (encoded.dataDropped) {
      this.logger.warn(`${route.descriptor.name}: the data of the error sent to the caller could not be serialized; it was sent without it`);
    }
    this.reply(channel, message, encoded.body, encoded.contentType, true);
  }

  /** Never throws. */
  private reply(channel: Channel, message: ConsumeMessage, body: Buffer, contentType: string, isError: boolean): void {
    // Short strings in AMQP, and amqplib decodes them as such.
    const { replyTo, correlationId } = message.properties as { replyTo?: string; correlationId?: string };
    try {
      let headers: Record<string, unknown> | undefined = isError ? { [WARREN_HEADERS.rpcStatus]: 'error' } : undefined;
      if (this.telemetry !== undefined) {
        headers ??= {};
        this.telemetry.reply(headers);
      }
      channel.publish('', replyTo as string, body, { correlationId, contentType, headers });
    } catch (error) {
      this.logger.warn(`Could not send the RPC reply to ${String(replyTo)}: ${errorText(error)}`);
    }
  }

  /**
   * Returns a delivery whose handler never ran (its consumer stopping, a dedup hold) to its queue
   * without counting it as a failed delivery: a confirmed copy, then an ack of the original, where the
   * source can copy (quorum queues); a requeue elsewhere, or when the copy fails. A copy goes to the
   * back of the queue. If the channel closes between the copy's confirm and the ack, the broker
   * redelivers the original too (dedup absorbs it). Never rejects.
   */
  async giveBack(source: DispatchSource, channel: Channel, message: ConsumeMessage): Promise<ConsumeOutcome> {
    const copy = source.requeueCopy;
    if (copy === undefined || source.hasClosed(channel)) return this.settle(channel, message, REQUEUE);
    try {
      await copy(message);
    } catch (error) {
      this.logger.debug(`queue '${source.queue}': could not copy a delivery back (${errorText(error)}); it is requeued`);
      return this.settle(channel, message, REQUEUE);
    }
    return this.settle(channel, message, { action: 'ack', outcome: 'requeued' });
  }

  /** Never throws. */
  private settle(channel: Channel, message: ConsumeMessage, settlement: Settlement): ConsumeOutcome {
    try {
      if (settlement.action === 'ack') channel.ack(message);
      else channel.nack(message, false, settlement.action === 'give-back' || settlement.requeue);
    } catch (error) {
      this.logger.debug(`Could not settle delivery ${message.fields.deliveryTag}: ${errorText(error)}`);
    }
    return settlement.outcome;
  }
}
