import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { AmqpConnection, type ConnectionStatus, type HandlerStats } from '@warren/rabbitmq';
import type { Redis } from 'ioredis';
import type { SampleConfig } from './sample-config';
import type { SampleNames } from './sample-names';
import { REDIS, SAMPLE_CONFIG, SAMPLE_NAMES, SAMPLE_SERVICE } from './sample.tokens';

/** What a running service reports about itself. */
export interface ServiceReport {
  service: string;
  instance: string;
  pid: number;
  /** The RabbitMQ connection's state. */
  rabbitmq: ConnectionStatus;
  /** `getHandlerStats()` of the process: counts since it started. */
  handlers: Record<string, HandlerStats>;
  startedAt: string;
  at: string;
  stopped: boolean;
}

/**
 * Each service writes a heartbeat to Redis every `heartbeatMs` with its
 * connection status and handler statistics (which live in each process), so
 * the orders API can report the health and the totals of the whole system.
 */
@Injectable()
export class ServiceRegistry implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(ServiceRegistry.name);
  private readonly startedAt = new Date().toISOString();
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(SAMPLE_NAMES) private readonly names: SampleNames,
    @Inject(SAMPLE_CONFIG) private readonly config: SampleConfig,
    @Inject(SAMPLE_SERVICE) private readonly service: string,
    private readonly amqp: AmqpConnection,
  ) {}

  onApplicationBootstrap(): void {
    void this.beat();
    this.timer = setInterval(() => void this.beat(), this.config.heartbeatMs);
    this.timer.unref();
  }

  /** Before the connections close: the last report keeps the final counts (for an hour). */
  async beforeApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.beat(true);
  }

  /** Reports of every instance seen recently (running) or stopped within the hour. */
  async all(): Promise<ServiceReport[]> {
    const reports: ServiceReport[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${this.names.redisPrefix}service:*`, 'COUNT', 200);
      cursor = next;
      if (keys.length > 0) {
        for (const raw of await this.redis.mget(keys)) if (raw) reports.push(JSON.parse(raw) as ServiceReport);
      }
    } while (cursor !== '0');
    return reports.sort((a, b) => `${a.service}/${a.instance}`.localeCompare(`${b.service}/${b.instance}`));
  }

  /** Handler statistics summed over every instance that reported. */
  static totals(reports: ServiceReport[]): Record<string, HandlerStats> {
    const totals: Record<string, HandlerStats> = {};
    for (const report of reports) {
      for (const [handler, stats] of Object.entries(report.handlers)) {
        const sum = (totals[handler] ??= { handled: 0, failed: 0, retried: 0, deadLettered: 0, duplicates: 0 });
        sum.handled += stats.handled;
        sum.failed += stats.failed;
        sum.retried += stats.retried;
        sum.deadLettered += stats.deadLettered;
        sum.duplicates += stats.duplicates;
      }
    }
    return totals;
  }

  private async beat(stopped = false): Promise<void> {
    const report: ServiceReport = {
      service: this.service,
      instance: this.config.instanceId,
      pid: process.pid,
      rabbitmq: this.amqp.status,
      handlers: this.amqp.getHandlerStats(),
      startedAt: this.startedAt,
      at: new Date().toISOString(),
      stopped,
    };
    const ttl = stopped ? 3_600_000 : this.config.heartbeatMs * 5;
    try {
      await this.redis.set(`${this.names.redisPrefix}service:${this.service}:${this.config.instanceId}`, JSON.stringify(report), 'PX', ttl);
    } catch (error) {
      this.logger.debug(`Heartbeat not written: ${(error as Error).message}`);
    }
  }
}
