import { Injectable, Logger } from '@nestjs/common';
import type { GetMessage } from 'amqplib';
import { AmqpConnectionRegistry } from './amqp-connection.registry';
import { readReason, type DeadLetterReason } from '../message/dead-letter-reason';
import { keptProperties } from '../message/kept-properties';
import { replayHeaders } from '../message/message-headers';

/** A message in a dead-letter queue, with why it is there. */
export interface DeadLetter {
  messageId: string | undefined;
  /** The deserialized body, or the raw Buffer when it cannot be read (that may be why it is here). */
  payload: unknown;
  content: Buffer;
  headers: Record<string, unknown>;
  reason: DeadLetterReason;
}

export interface DeadLetterQueryOptions {
  /** @default 'default' */
  connection?: string;
}

export interface ReplayOptions extends DeadLetterQueryOptions {
  /** Replay at most this many. @default all */
  limit?: number;
  /** Replay only the dead letters this returns true for; the others stay. */
  filter?: (deadLetter: DeadLetter) => boolean;
}

export interface ReplayResult {
  /** Republished to their original queue (confirmed) and removed from the dead-letter queue. */
  replayed: number;
  /** Left in the dead-letter queue: filtered out, over the limit, or their queue is unknown or gone. */
  kept: number;
  /** Of those kept, the ones that could not be republished, with the error. */
  failed: Array<{ messageId: string | undefined; error: string }>;
}

/**
 * Inspect and replay dead-letter queues. Peeking takes messages without
 * acking and gives them all back; replay publishes each to its original
 * queue with the attempt count reset, waits for the broker's confirm, and
 * only then removes it from the dead-letter queue — a crash in between
 * leaves a duplicate (absorbed by dedup), never a loss.
 */
@Injectable()
export class DeadLetterService {
  private readonly logger = new Logger(DeadLetterService.name);

  constructor(private readonly registry: AmqpConnectionRegistry) {}

  async count(queue: string, options: DeadLetterQueryOptions = {}): Promise<number> {
    return this.registry.get(options.connection).withChannel(async (channel) => (await channel.checkQueue(queue)).messageCount);
  }

  /** Up to `limit` dead letters from the head of the queue; nothing is removed. */
  async peek(queue: string, options: DeadLetterQueryOptions & { limit?: number } = {}): Promise<DeadLetter[]> {
    const connection = this.registry.get(options.connection);
    const limit = options.limit ?? 10;
    return connection.withChannel(async (channel) => {
      const found: DeadLetter[] = [];
      while (found.length < limit) {
        const message = await channel.get(queue, { noAck: false });
        if (message === false) break;
        found.push(this.toDeadLetter(message, connection.options.serializer));
      }
      // Closing the channel (withChannel does) returns every unacked message to the queue.
      return found;
    });
  }

  async replay(queue: string, options: ReplayOptions = {}): Promise<ReplayResult> {
    const connection = this.registry.get(options.connection);
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    const result: ReplayResult = { replayed: 0, kept: 0, failed: [] };
    await connection.withChannel(async (channel) => {
      // Look at each message at most once: those kept stay unacked until the channel closes.
      const total = (await channel.checkQueue(queue)).messageCount;
      for (let seen = 0; seen < total && result.replayed < limit; seen++) {
        const message = await channel.get(queue, { noAck: false });
        if (message === false) break;
        const deadLetter = this.toDeadLetter(message, connection.options.serializer);
        const target = deadLetter.reason.queue;
        if ((options.filter && !options.filter(deadLetter)) || !target) {
          result.kept++;
          if (!target) result.failed.push({ messageId: deadLetter.messageId, error: 'the original queue is not recorded' });
          continue;
        }
        const headers = replayHeaders(deadLetter.headers);
        try {
          await connection.publishRaw('', target, message.content, {
            ...keptProperties(message.properties as unknown as Record<string, unknown>),
            headers,
          });
          channel.ack(message);
          result.replayed++;
        } catch (error) {
          result.kept++;
          result.failed.push({ messageId: deadLetter.messageId, error: (error as Error).message });
        }
      }
      result.kept += Math.max(0, total - result.replayed - result.kept);
    });
    this.logger.log(`Replayed ${result.replayed} dead letter(s) from '${queue}'; ${result.kept} kept`);
    return result;
  }

  /** Deletes every message of the dead-letter queue; returns how many. */
  async purge(queue: string, options: DeadLetterQueryOptions = {}): Promise<number> {
    return this.registry.get(options.connection).withChannel(async (channel) => (await channel.purgeQueue(queue)).messageCount);
  }

  private toDeadLetter(message: GetMessage, serializer: { deserialize(body: Buffer, type: string | undefined): unknown }): DeadLetter {
    let payload: unknown;
    try {
      payload = serializer.deserialize(message.content, message.properties.contentType as string | undefined);
    } catch {
      payload = message.content;
    }
    return {
      messageId: message.properties.messageId as string | undefined,
      payload,
      content: message.content,
      headers: { ...message.properties.headers },
      reason: readReason(message.properties),
    };
  }
}
