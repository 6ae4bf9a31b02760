import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { SampleConfig } from '../../common/src/sample-config';
import type { SampleNames } from '../../common/src/sample-names';
import { REDIS, SAMPLE_CONFIG, SAMPLE_NAMES } from '../../common/src/sample.tokens';

/** One notification "sent" (the sample writes them to Redis instead of mailing anyone). */
export interface SentNotification {
  channel: 'email' | 'warehouse' | 'broadcast';
  kind: string;
  orderId?: string;
  text: string;
  /** The AMQP priority the message arrived with (shipping queue). */
  priority?: number;
  instance: string;
  at: string;
}

/** What notifications sent, in order, in a Redis list: tests and the demo read it back. */
@Injectable()
export class NotificationLog {
  private readonly key: string;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(SAMPLE_NAMES) names: SampleNames,
    @Inject(SAMPLE_CONFIG) private readonly config: SampleConfig,
  ) {
    this.key = names.keys.notifications;
  }

  async record(notification: Omit<SentNotification, 'instance' | 'at'>): Promise<void> {
    const entry: SentNotification = { ...notification, instance: this.config.instanceId, at: new Date().toISOString() };
    await this.redis.rpush(this.key, JSON.stringify(entry));
  }
}
