import { Logger } from '@nestjs/common';
import type { Channel, ConsumeMessage } from 'amqplib';
import { attemptOf } from '../dead-letter/dead-letter-headers';
import { MessageDeserializationError } from '../errors/message-deserialization.error';
import { MessageTooLargeError } from '../errors/message-too-large.error';
import { NoHandlerError } from '../errors/no-handler.error';
import type { TelemetryHub } from '../observability/telemetry-hub';
import type { ConsumeOutcome } from '../observability/telemetry.interface';
import { WARREN_HEADERS } from '../rabbitmq.constants';
import { encodeRemoteError } from '../rpc/remote-error-codec';
import type { DedupTicket } from './dedup-guard';
import { isPermanentFailure } from './error-behavior.strategy';
import { ACK, REQUEUE, type FailureStrategy, type Settlement } from './failure-strategy';
import type { HandlerRoute } from './handler-route';
import { Nack } from './nack';

/** What the dispatcher needs from the consumer a message came from. */
export interface DispatchSource {
  readonly queue: string;
  route(routingKey: string): HandlerRoute | undefined;
  /** Used when no handler matches: usually dead-letters. */
  readonly fallbackFailure: FailureStrategy;
}

const EMPTY_HEADERS: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;
const REPLIED_ERROR: Settlement = { action: 'ack', outcome: 'replied-error' };

/**
 * The one place that acks and nacks. Every delivery goes: size check →
 * deserialize → dedup claim → handler → settle. Failures are handed to the
 * route's FailureStrategy (retry, dead-letter, requeue or drop) and settled
 * here; an ack on a channel that has since closed is dropped quietly — the
 * broker redelivers and dedup absorbs it.
 */
export class MessageDispatcher {
  private readonly logger = new Logger(MessageDispatcher.name);

  constructor(
    private readonly maxMessageSize: number,
    private readonly connectionName: string,
    private readonly telemetry: TelemetryHub | undefined,
  ) {}

  dispatch(source: DispatchSource, channel: Channel, message: ConsumeMessage): Promise<ConsumeOutcome> {
    const headers = (message.properties.headers as Record<string, unknown> | undefined) ?? EMPTY_HEADERS;
    const routingKey = (headers[WARREN_HEADERS.originalRoutingKey] as string | undefined) ?? message.fields.routingKey;
    const route = source.route(routingKey);
    if (this.telemetry === undefined) return this.process(source, route, routingKey, headers, channel, message);
    const info = {
      connection: this.connectionName,
      queue: source.queue,
      handler: route?.descriptor.name,
      exchange: (headers[WARREN_HEADERS.originalExchange] as string | undefined) ?? message.fields.exchange,
      routingKey,
      messageId: message.properties.messageId as string | undefined,
      headers,
      attempt: attemptOf(message),
    };
    return this.telemetry.consume(info, () => this.process(source, route, routingKey, headers, channel, message));
  }

  private async process(
    source: DispatchSource,
    route: HandlerRoute | undefined,
    routingKey: string,
    headers: Record<string, unknown>,
    channel: Channel,
    message: ConsumeMessage,
  ): Promise<ConsumeOutcome> {
    if (route === undefined) {
      return this.fail(source, undefined, channel, message, new NoHandlerError(source.queue, routingKey), source.fallbackFailure);
    }
    if (message.content.length > this.maxMessageSize) {
      const error = new MessageTooLargeError(message.content.length, this.maxMessageSize, `received on queue '${source.queue}'`);
      return this.fail(source, route, channel, message, error, route.failure);
    }
    let payload: unknown;
    try {
      payload = route.serializer.deserialize(message.content, message.properties.contentType as string | undefined);
    } catch (cause) {
      if (route.allowNonJson) payload = message.content;
      else {
        const error = new MessageDeserializationError(source.queue, message.properties.contentType as string | undefined, cause);
        return this.fail(source, route, channel, message, error, route.failure);
      }
    }

    let ticket: DedupTicket | undefined;
    if (route.dedup !== undefined) {
      const decision = await route.dedup.begin(message, payload);
      if (!decision.run) return this.settle(channel, message, decision.settlement);
      ticket = decision.ticket;
    }

    let result: unknown;
    try {
      result = await this.invoke(route, payload, message, headers);
    } catch (error) {
      if (ticket !== undefined) await this.release(route, ticket);
      if (route.descriptor.kind === 'rpc' && message.properties.replyTo) {
        route.stats.failed++;
        this.reply(channel, message, route, encodeRemoteError(error), true);
        return this.settle(channel, message, REPLIED_ERROR);
      }
      return this.fail(source, route, channel, message, error, route.failure);
    }

    if (result instanceof Nack) {
      route.stats.failed++;
      if (ticket !== undefined) await this.release(route, ticket);
      return this.settle(channel, message, result.requeue ? REQUEUE : { action: 'nack', requeue: false, outcome: 'rejected' });
    }
    route.stats.handled++;
    if (route.descriptor.kind === 'rpc' && message.properties.replyTo) {
      this.reply(channel, message, route, result, false);
    }
    if (ticket !== undefined) {
      try {
        await route.dedup?.succeeded(ticket);
      } catch (error) {
        // The side effect happened; a redelivery may now run twice. Say so rather than hide it.
        this.logger.warn(`${route.descriptor.name}: could not record completion of ${ticket.key}: ${(error as Error).message}`);
      }
    }
    return this.settle(channel, message, ACK);
  }

  /** Runs the handler, re-running it in process while the route's immediate-retry rule allows. */
  private async invoke(route: HandlerRoute, payload: unknown, message: ConsumeMessage, headers: Record<string, unknown>): Promise<unknown> {
    for (let failures = 1; ; failures++) {
      try {
        return await route.descriptor.invoke(payload, message, headers);
      } catch (error) {
        if (route.retryImmediately === undefined || isPermanentFailure(error) || !route.retryImmediately(error, failures)) throw error;
      }
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
    let settlement: Settlement;
    try {
      settlement = await strategy.onFailure({ queue: source.queue, route, message, error });
    } catch (strategyError) {
      // Could not park the message (wait queue or dead-letter queue unreachable): keep it on its queue.
      this.logger.error(
        `${route?.descriptor.name ?? source.queue}: could not retry or dead-letter a failed message; it is requeued: ${(strategyError as Error).message}`,
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
      this.logger.debug(`${route.descriptor.name}: dedup release of ${ticket.key} failed (its lease expires): ${(error as Error).message}`);
    }
  }

  private reply(channel: Channel, message: ConsumeMessage, route: HandlerRoute, value: unknown, isError: boolean): void {
    const { replyTo, correlationId } = message.properties;
    try {
      const body = route.serializer.serialize(value);
      let headers: Record<string, unknown> | undefined = isError ? { [WARREN_HEADERS.rpcStatus]: 'error' } : undefined;
      if (this.telemetry !== undefined) {
        headers ??= {};
        this.telemetry.reply(headers);
      }
      channel.publish('', replyTo as string, body, { correlationId, contentType: route.serializer.contentType, headers });
    } catch (error) {
      this.logger.warn(`Could not send the RPC reply to ${String(replyTo)}: ${(error as Error).message}`);
    }
  }

  private settle(channel: Channel, message: ConsumeMessage, settlement: Settlement): ConsumeOutcome {
    try {
      if (settlement.action === 'ack') channel.ack(message);
      else channel.nack(message, false, settlement.requeue);
    } catch (error) {
      this.logger.debug(`Could not settle delivery ${message.fields.deliveryTag}: ${(error as Error).message}`);
    }
    return settlement.outcome;
  }
}
