import { Injectable, Logger, type INestApplicationContext, type ModuleMetadata } from '@nestjs/common';
import {
  AmqpConnection,
  RabbitMQModule,
  RabbitSubscribe,
  type DedupOptions,
  type QueueOptions,
  type RabbitMQModuleOptions,
  type RetryOptions,
} from '@warren/rabbitmq';
import type { Redis } from 'ioredis';
import { createApp } from '../../support/app';
import { uniqueName } from '../../support/broker';
import { FaultLogger } from './capture';
import type { TotalQueueChecker } from './checker';
import { sleep } from './stream';

/** A handler that records every delivery, side effect and success in a checker. */
export interface RecordingHandler {
  exchange: string;
  queue: string;
  checker: TotalQueueChecker;
  queueOptions?: QueueOptions;
  prefetch?: number;
  dedup?: DedupOptions;
  retry?: RetryOptions;
  deadLetter?: boolean;
  /** Simulated work before the side effect, ms (0: one event-loop turn). */
  workMs?: number;
  /** When set, the side effect is an SADD of the id into this Redis set, awaited. */
  redis?: { client: Redis; key: string };
}

/** The handler's name in stats and logs. */
export const RECORDER = 'Recorder.handle';

/** A module with one recording handler on `connection`. */
export function recorderModule(connection: RabbitMQModuleOptions, handler: RecordingHandler): ModuleMetadata {
  const { checker, workMs = 0, redis } = handler;

  @Injectable()
  class Recorder {
    @RabbitSubscribe({
      exchange: handler.exchange,
      routingKey: handler.queue,
      queue: handler.queue,
      queueOptions: handler.queueOptions,
      prefetch: handler.prefetch,
      dedup: handler.dedup,
      retry: handler.retry,
      deadLetter: handler.deadLetter,
    })
    async handle(payload: { id: string }): Promise<void> {
      checker.delivered(payload.id);
      if (workMs > 0) await sleep(workMs);
      else await new Promise((resolve) => setImmediate(resolve));
      if (redis) await redis.client.sadd(redis.key, payload.id);
      checker.sideEffect(payload.id);
      checker.processed(payload.id);
    }
  }

  return {
    imports: [RabbitMQModule.forRoot({ ...connection })],
    providers: [Recorder],
  };
}

/** Boots an application whose every log line (debug included) is captured for the credentials scan. */
export async function bootApp(metadata: ModuleMetadata, source: string): Promise<{ app: INestApplicationContext; logger: FaultLogger; amqp: AmqpConnection }> {
  const logger = new FaultLogger(source);
  const app = await createApp(metadata, logger);
  return { app, logger, amqp: app.get(AmqpConnection) };
}

/** Nest keeps the last logger globally; put the quiet one back after a spec. */
export function resetLogger(): void {
  Logger.overrideLogger(['error']);
}

/** A queue/exchange name for a scenario, unique per run. */
export function faultName(scenario: string): string {
  return uniqueName(`faults.${scenario}`);
}

/** The full name of the running Jest test, as the figures reporter matches it. */
export function currentTest(): string {
  return expect.getState().currentTestName ?? '';
}
