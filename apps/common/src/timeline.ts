import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { TimelineEntry } from './contracts';
import type { SampleConfig } from './sample-config';
import type { SampleNames } from './sample-names';
import { REDIS, SAMPLE_CONFIG, SAMPLE_NAMES, SAMPLE_SERVICE } from './sample.tokens';

/**
 * What happened to each order, as the services saw it: appended to a Redis list
 * per order (GET /orders/:id shows it) and published on a Redis channel (the demo
 * prints it as it happens). Recording is best effort: a lost line never fails an order.
 */
@Injectable()
export class Timeline {
  private readonly logger = new Logger(Timeline.name);

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(SAMPLE_NAMES) private readonly names: SampleNames,
    @Inject(SAMPLE_CONFIG) private readonly config: SampleConfig,
    @Inject(SAMPLE_SERVICE) private readonly service: TimelineEntry['service'],
  ) {}

  async record(orderId: string, event: string, detail?: string): Promise<void> {
    const entry: TimelineEntry = { orderId, at: new Date().toISOString(), service: this.service, instance: this.config.instanceId, event, detail };
    const json = JSON.stringify(entry);
    try {
      await this.redis.multi().rpush(`${this.names.redisPrefix}timeline:${orderId}`, json).publish(this.names.keys.timelineChannel, json).exec();
    } catch (error) {
      this.logger.warn(`Could not record '${event}' for order ${orderId}: ${(error as Error).message}`);
    }
    this.logger.debug(`${orderId} ${event}${detail ? ` (${detail})` : ''}`);
  }

  async of(orderId: string): Promise<TimelineEntry[]> {
    const raws = await this.redis.lrange(`${this.names.redisPrefix}timeline:${orderId}`, 0, -1);
    return raws.map((raw) => JSON.parse(raw) as TimelineEntry);
  }
}
