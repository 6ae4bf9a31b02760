import { Logger } from '@nestjs/common';
import type { Channel, ConsumeMessage } from 'amqplib';
import { MessageDeserializationError } from '../errors/message-deserialization.error';
import { MessageTooLargeError } from '../errors/message-too-large.error';
import { NoHandlerError } from '../errors/no-handler.error';
import { RpcReplySerializationError } from '../errors/rpc-reply-serialization.error';
import type { ConsumeInfo, ConsumeOutcome } from '../options/telemetry.interface';
import { attemptOf, exchangeOf, redeliveriesOf, routingKeyOf } from '../message/message-headers';
import { WARREN_HEADERS } from '../message/warren-headers';
import { encodeRemoteErrorBody } from '../rpc/remote-error-codec';
import type { DedupTicket } from './dedup-guard';
import type { DeliveryTelemetry } from './delivery-telemetry';
import { ACK, REJECT, REQUEUE, type FailureStrategy, type Settlement } from './failure-strategy';
import type { HandlerRoute } from './handler-route';
import { Nack } from './nack';
import { InvalidBatchResultError } from '../errors/invalid-batch-result.error';
import { errorText } from '../errors/error-text';
import { isPermanent } from '../errors/permanent-failure';
import { abortableDelay } from './abortable-delay';

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
  /** Aborts once `accepts(channel)` turns false (aborted already if it is): ends an in-place retry's wait early. */
  stopsAccepting(channel: Channel): AbortSignal;
  /**
   * Puts a fresh copy of a delivery on this queue and resolves on the broker's confirm; undefined where a
   * requeue costs nothing. A quorum queue counts every requeue against its delivery limit (20 unless set,
   * from RabbitMQ 4.0), so a delivery that only waited would end dead-lettered, or dropped, unprocessed.
   */
  readonly requeueCopy?: (message: ConsumeMessage) => Promise<void>;
  /** Whether the broker counts this queue's redeliveries in `x-delivery-count` (quorum queues). */
  readonly countsDeliveries?: boolean;
  /**
   * Set by an ordered consumer (a partition): instead of a requeue, the delivery is left unsettled and
   * the consumer lets go of `channel`, whose close returns it with the deliveries held behind it, in order.
   */
  returnInOrder?(channel: Channel): void;
}

/** One message of a batch on its way through the dispatcher. */
interface BatchItem {
  message: ConsumeMessage;
  payload: unknown;
  ticket: DedupTicket | undefined;
  /** Resolves with the message's outcome once it is settled. */
  outcome: Promise<ConsumeOutcome>;
  finish: (outcome: ConsumeOutcome) => void;
  finished: boolean;
}

/** A batch handler threw something that is not an Error: kept apart so it is failed as thrown. */
class BatchFailure {
  constructor(readonly error: unknown) {}
}

/** What `retrying` returns instead of a result when the source no longer wants the delivery. */
const NO_LONGER_WANTED = Symbol('no longer wanted');

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
      const found = route;
      // The hub runs `process` exactly once whatever its hooks do, and never rejects.
      return this.telemetry.consume(this.consumeInfo(source, route, message, routingKey, headers), () =>
        this.process(source, found, routingKey, headers, channel, message),
      );
    } catch (error) {
      // Nothing ran yet, so nothing was settled.
      return this.rescue(source, route, channel, message, error);
    }
  }

  private consumeInfo(
    source: DispatchSource,
    route: HandlerRoute | undefined,
    message: ConsumeMessage,
    routingKey: string,
    headers: Record<string, unknown>,
  ): ConsumeInfo {
    const messageId = message.properties.messageId as unknown;
    return {
      connection: this.connectionName,
      queue: source.queue,
      handler: route?.descriptor.name,
      exchange: exchangeOf(message),
      routingKey,
      messageId: typeof messageId === 'string' ? messageId : undefined,
      headers,
      attempt: attemptOf(message),
      redeliveries: redeliveriesOf(message, source.countsDeliveries === true),
    };
  }

  /**
   * Runs a batch handler once for `messages` (delivered on `channel`, in order) and settles each of them.
   * Each message is checked on its own first (size, body, dedup): one that fails there is failed alone
   * (dead-lettered, retried) and the handler gets the rest. Then every message handed over is settled by
   * the handler's outcome: one for all (nothing, a Nack, a throw) or one each (a returned array). Telemetry
   * sees one consume per message. Never throws, and the promise never rejects: every delivery is settled.
   */
  async dispatchBatch(source: DispatchSource, route: HandlerRoute, channel: Channel, messages: readonly ConsumeMessage[]): Promise<void> {
    const items: BatchItem[] = messages.map((message) => {
      let resolve!: (outcome: ConsumeOutcome) => void;
      const outcome = new Promise<ConsumeOutcome>((r) => (resolve = r));
      return { message, payload: undefined, ticket: undefined, outcome, finish: resolve, finished: false };
    });
    const reported: Array<Promise<ConsumeOutcome>> = [];
    for (const item of items) {
      const message = item.message;
      if (this.telemetry === undefined) {
        reported.push(item.outcome);
        continue;
      }
      try {
        const headers: Record<string, unknown> = message.properties.headers ?? EMPTY_HEADERS;
        // The hub awaits `run` exactly once and never rejects; the outcome is the batch's for this message.
        reported.push(this.telemetry.consume(this.consumeInfo(source, route, message, routingKeyOf(message), headers), () => item.outcome));
      } catch {
        reported.push(item.outcome);
      }
    }
    try {
      await this.processBatch(source, route, channel, items);
    } catch (error) {
      // Whatever threw did so before these were settled; a dedup claim taken is left to its lease.
      await Promise.all(
        items.filter((item) => !item.finished).map(async (item) => this.done(item, await this.rescue(source, route, channel, item.message, error))),
      );
    }
    await Promise.all(reported);
  }

  private done(item: BatchItem, outcome: ConsumeOutcome): void {
    item.finished = true;
    item.finish(outcome);
  }

  private async processBatch(source: DispatchSource, route: HandlerRoute, channel: Channel, items: BatchItem[]): Promise<void> {
    const early: Array<Promise<void>> = [];
    const runnable: BatchItem[] = [];
    for (const item of items) {
      const message = item.message;
      if (message.content.length > this.maxMessageSize) {
        this.failAlone(
          source,
          route,
          channel,
          item,
          new MessageTooLargeError(message.content.length, this.maxMessageSize, `received on queue '${source.queue}'`),
          early,
        );
        continue;
      }
      try {
        item.payload = route.serializer.deserialize(message.content, message.properties.contentType as string | undefined, message);
      } catch (cause) {
        if (!route.allowNonJson) {
          this.failAlone(
            source,
            route,
            channel,
            item,
            new MessageDeserializationError(source.queue, message.properties.contentType as string | undefined, cause),
            early,
          );
          continue;
        }
        item.payload = message.content;
      }
      runnable.push(item);
    }
    await this.claimAndRun(source, route, channel, runnable, early);
    await Promise.all(early);
  }

  /** Fails one message of a batch on its own (retry, dead letter), before the handler runs for the others. */
  private failAlone(source: DispatchSource, route: HandlerRoute, channel: Channel, item: BatchItem, error: unknown, early: Array<Promise<void>>): void {
    item.finished = true;
    early.push(
      (async () => {
        let outcome: ConsumeOutcome;
        try {
          outcome = await this.reject(source, route, channel, item.message, error);
        } catch (secondError) {
          outcome = await this.rescue(source, route, channel, item.message, secondError);
        }
        item.finish(outcome);
      })(),
    );
  }

  /**
   * Claims the dedup keys, runs the handler for the messages it may run, and settles the rest. A key met
   * again in the same batch waits for this run, then goes through its own claim: a duplicate if the first
   * copy succeeded, run if it failed.
   */
  private async claimAndRun(source: DispatchSource, route: HandlerRoute, channel: Channel, items: BatchItem[], early: Array<Promise<void>>): Promise<void> {
    let runnable = items;
    const repeats: BatchItem[] = [];
    const dedup = route.dedup;
    if (dedup !== undefined) {
      const firsts: BatchItem[] = [];
      const keys = new Set<string>();
      for (const item of items) {
        let key: string | undefined;
        try {
          key = dedup.keyOf?.(item.message, item.payload);
        } catch (error) {
          // The key cannot be computed (DedupKeyError): this message fails, the others go on.
          this.failAlone(source, route, channel, item, error, early);
          continue;
        }
        if (key !== undefined && keys.has(key)) repeats.push(item);
        else {
          if (key !== undefined) keys.add(key);
          firsts.push(item);
        }
      }
      const decided = await Promise.all(
        firsts.map(async (item): Promise<BatchItem | undefined> => {
          let decision;
          try {
            decision = await dedup.begin(item.message, item.payload, () => source.accepts(channel));
          } catch (error) {
            this.failAlone(source, route, channel, item, error, early);
            return undefined;
          }
          if (decision.run) {
            item.ticket = decision.ticket;
            return item;
          }
          this.done(
            item,
            decision.settlement.action === 'give-back'
              ? await this.giveBack(source, channel, item.message)
              : this.settle(source, channel, item.message, decision.settlement),
          );
          return undefined;
        }),
      );
      runnable = decided.filter((item): item is BatchItem => item !== undefined);
    }

    if (runnable.length > 0 && source.hasClosed(channel)) {
      // Their channel closed while they waited: the broker redelivers them, so they must not run now too.
      for (const item of runnable) {
        if (item.ticket !== undefined) await this.release(route, item.ticket);
        this.done(item, REQUEUE.outcome);
      }
      runnable = [];
    }
    if (runnable.length > 0) await this.runBatch(source, route, channel, runnable);
    if (repeats.length > 0) await this.claimAndRun(source, route, channel, repeats, early);
  }

  /** Calls the handler once for `items` and settles each by its outcome. */
  private async runBatch(source: DispatchSource, route: HandlerRoute, channel: Channel, items: BatchItem[]): Promise<void> {
    const invokeBatch = route.descriptor.invokeBatch;
    const messages = items.map((item) => item.message);
    const headers = messages.map((message): Record<string, unknown> => message.properties.headers ?? EMPTY_HEADERS);
    const payloads = items.map((item) => item.payload);
    let result: unknown;
    let thrown: { error: unknown } | undefined;
    try {
      if (invokeBatch === undefined) throw new TypeError(`${route.descriptor.name} has no batch invoker`);
      result = await this.retrying(source, channel, route, () => invokeBatch(payloads, messages, headers));
    } catch (error) {
      thrown = { error };
    }
    if (result === NO_LONGER_WANTED) {
      await Promise.all(
        items.map(async (item) => {
          if (item.ticket !== undefined) await this.release(route, item.ticket);
          this.done(item, await this.letGo(source, route, channel, item.message));
        }),
      );
      return;
    }

    let outcomes: readonly unknown[];
    if (thrown !== undefined) outcomes = items.map(() => (thrown.error instanceof Error ? thrown.error : new BatchFailure(thrown.error)));
    else if (result instanceof Nack) outcomes = items.map(() => result);
    else if (Array.isArray(result)) {
      const entries = result as unknown[];
      const invalid = entries.findIndex((entry) => entry !== undefined && entry !== null && !(entry instanceof Nack) && !(entry instanceof Error));
      if (entries.length !== items.length || invalid >= 0) {
        const error = new InvalidBatchResultError(route.descriptor.name, items.length, entries.length, entries.length === items.length ? invalid : undefined);
        this.logger.error(error.message);
        outcomes = items.map(() => error);
      } else outcomes = entries;
    } else outcomes = items.map(() => undefined);

    await Promise.all(
      items.map(async (item, index) => {
        try {
          await this.settleOutcome(source, route, channel, item, outcomes[index]);
        } catch (error) {
          // Each message is rescued on its own, so one that throws cannot settle another twice.
          if (!item.finished) this.done(item, await this.rescue(source, route, channel, item.message, error));
        }
      }),
    );
  }

  /** Settles one message of a batch by its outcome: an Error (or a throw) fails it, a Nack rejects it, anything else acks it. */
  private async settleOutcome(source: DispatchSource, route: HandlerRoute, channel: Channel, item: BatchItem, outcome: unknown): Promise<void> {
    if (outcome instanceof Error || outcome instanceof BatchFailure) {
      if (item.ticket !== undefined) await this.release(route, item.ticket);
      const error = outcome instanceof BatchFailure ? outcome.error : outcome;
      this.done(item, await this.reject(source, route, channel, item.message, error));
    } else if (outcome instanceof Nack) {
      route.stats.failed++;
      if (item.ticket !== undefined) await this.release(route, item.ticket);
      this.done(item, this.settle(source, channel, item.message, outcome.requeue ? REQUEUE : REJECT));
    } else {
      route.stats.handled++;
      if (item.ticket !== undefined) await this.recordSuccess(route, item.ticket);
      this.done(item, this.settle(source, channel, item.message, ACK));
    }
  }

  private async recordSuccess(route: HandlerRoute, ticket: DedupTicket): Promise<void> {
    try {
      await route.dedup?.succeeded(ticket);
    } catch (error) {
      // The side effect happened; a redelivery may now run twice. Say so rather than hide it.
      this.logger.warn(`${route.descriptor.name}: could not record completion of ${ticket.key}: ${errorText(error)}`);
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
        payload = route.serializer.deserialize(message.content, message.properties.contentType as string | undefined, message);
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
            : this.settle(source, channel, message, decision.settlement);
        }
        ticket = decision.ticket;
      }

      let result: unknown;
      try {
        // Without an immediate-retry rule, straight to the handler: one async step fewer per delivery.
        result =
          route.retryImmediately === undefined
            ? await route.descriptor.invoke(payload, message, headers)
            : await this.invoke(source, channel, route, payload, message, headers);
      } catch (error) {
        if (ticket !== undefined) await this.release(route, ticket);
        return await this.reject(source, route, channel, message, error);
      }
      if (result === NO_LONGER_WANTED) {
        if (ticket !== undefined) await this.release(route, ticket);
        return await this.letGo(source, route, channel, message);
      }

      if (result instanceof Nack) {
        route.stats.failed++;
        if (ticket !== undefined) await this.release(route, ticket);
        return this.settle(source, channel, message, result.requeue ? REQUEUE : REJECT);
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
          this.reply(channel, message, body, route.serializer.contentType, false, route.persistentReplies);
        }
      } else {
        route.stats.handled++;
      }
      if (ticket !== undefined) await this.recordSuccess(route, ticket);
      return this.settle(source, channel, message, settlement);
    } catch (error) {
      // Every path above ends in settle(), which never throws: whatever threw did so before the delivery was settled.
      // A dedup claim taken before is left to its lease.
      return this.rescue(source, route, channel, message, error);
    }
  }

  /** Runs the handler, re-running it in process while the route's immediate-retry rule allows. */
  private invoke(
    source: DispatchSource,
    channel: Channel,
    route: HandlerRoute,
    payload: unknown,
    message: ConsumeMessage,
    headers: Record<string, unknown>,
  ): Promise<unknown> {
    return this.retrying(source, channel, route, () => route.descriptor.invoke(payload, message, headers));
  }

  /**
   * Runs `run`, and re-runs it after the wait the route's immediate-retry rule asks for while the rule allows.
   * Throws the handler's error once the rule says stop; returns NO_LONGER_WANTED as soon as the source no
   * longer accepts the delivery's channel (consumer stopping or cancelled, partition handed over, channel
   * closed): such a delivery is neither waited on nor run here again, and the wait ends when that happens.
   */
  private async retrying(source: DispatchSource, channel: Channel, route: HandlerRoute, run: () => Promise<unknown>): Promise<unknown> {
    for (let failures = 1; ; failures++) {
      try {
        return await run();
      } catch (error) {
        const delay = route.retryImmediately === undefined || isPermanent(error) ? false : route.retryImmediately(error, failures);
        if (delay === false) throw error;
        if (!source.accepts(channel)) return NO_LONGER_WANTED;
        if (delay > 0) await abortableDelay(delay, source.stopsAccepting(channel));
        if (!source.accepts(channel)) return NO_LONGER_WANTED;
      }
    }
  }

  /**
   * A failing delivery whose in-place retry stopped because its source no longer wants it: not failed (no
   * retry queue, no dead letter) but returned to its queue like any delivery no longer wanted. Left to its
   * channel's close when that channel is gone; given back otherwise (an ordered source returns it in order).
   */
  private async letGo(source: DispatchSource, route: HandlerRoute, channel: Channel, message: ConsumeMessage): Promise<ConsumeOutcome> {
    route.stats.failed++;
    this.logger.debug(
      `${route.descriptor.name}: a failing delivery is no longer wanted here (consumer stopping or cancelled, partition handed over); it returns to its queue`,
    );
    if (source.hasClosed(channel)) return REQUEUE.outcome;
    return this.giveBack(source, channel, message);
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
      this.replyError(channel, message, route, error);
      // The caller has its answer; an explicit errorHandler still decides what becomes of the request.
      if (route.rpcFailure !== undefined) return this.fail(source, route, channel, message, error, route.rpcFailure);
      route.stats.failed++;
      return this.settle(source, channel, message, REPLIED_ERROR);
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
      return this.settle(source, channel, message, REJECT);
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
      settlement = await strategy.onFailure({ queue: source.queue, route, message, error, channel });
    } catch (strategyError) {
      // Could not park the message (wait queue or dead-letter queue unreachable): keep it on its queue.
      this.logger.error(
        `${route?.descriptor.name ?? source.queue}: could not retry or dead-letter a failed message; it is requeued: ${errorText(strategyError)}`,
      );
      await new Promise((resolve) => setTimeout(resolve, 1000));
      settlement = REQUEUE;
    }
    return this.settle(source, channel, message, settlement);
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
    this.reply(channel, message, encoded.body, encoded.contentType, true, route.persistentReplies);
  }

  /** Never throws. */
  private reply(channel: Channel, message: ConsumeMessage, body: Buffer, contentType: string, isError: boolean, persistent = false): void {
    // Short strings in AMQP, and amqplib decodes them as such.
    const { replyTo, correlationId } = message.properties as { replyTo?: string; correlationId?: string };
    try {
      let headers: Record<string, unknown> | undefined = isError ? { [WARREN_HEADERS.rpcStatus]: 'error' } : undefined;
      if (this.telemetry !== undefined) {
        headers ??= {};
        this.telemetry.reply(headers);
      }
      channel.publish('', replyTo as string, body, { correlationId, contentType, headers, persistent });
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
    if (copy === undefined || source.hasClosed(channel)) return this.settle(source, channel, message, REQUEUE);
    try {
      await copy(message);
    } catch (error) {
      this.logger.debug(`queue '${source.queue}': could not copy a delivery back (${errorText(error)}); it is requeued`);
      return this.settle(source, channel, message, REQUEUE);
    }
    return this.settle(source, channel, message, { action: 'ack', outcome: 'requeued' });
  }

  /** Never throws. */
  private settle(source: DispatchSource, channel: Channel, message: ConsumeMessage, settlement: Settlement): ConsumeOutcome {
    const requeue = settlement.action === 'give-back' || (settlement.action === 'nack' && settlement.requeue);
    if (requeue && source.returnInOrder !== undefined) {
      // A single requeue would put it behind the deliveries this consumer still holds (a quorum queue
      // returns by delivery order): the source returns them all, in order, by closing its channel.
      source.returnInOrder(channel);
      return settlement.outcome;
    }
    try {
      if (settlement.action === 'ack') channel.ack(message);
      else channel.nack(message, false, settlement.action === 'give-back' || settlement.requeue);
    } catch (error) {
      this.logger.debug(`Could not settle delivery ${message.fields.deliveryTag}: ${errorText(error)}`);
    }
    return settlement.outcome;
  }
}
