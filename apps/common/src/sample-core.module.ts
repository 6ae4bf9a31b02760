import { Global, Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { TimelineEntry } from './contracts';
import { OrderStore } from './order.store';
import { connectRedis } from './redis-client.factory';
import type { SampleConfig } from './sample-config';
import { sampleNames } from './sample-names';
import { REDIS, SAMPLE_CONFIG, SAMPLE_NAMES, SAMPLE_SERVICE } from './sample.tokens';
import { ServiceRegistry } from './service-registry';
import { Timeline } from './timeline';

/** Closes the Redis client last, after the RabbitMQ consumers have drained. */
@Injectable()
class RedisCloser implements OnApplicationShutdown {
  constructor(@Inject(REDIS) private readonly redis: Redis) {}

  async onApplicationShutdown(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/**
 * What every sample service shares: its configuration and names, the Redis
 * client, the order store, the timeline and the service registry.
 */
@Global()
@Module({})
export class SampleCoreModule {
  static forRoot(config: SampleConfig, service: TimelineEntry['service']): DynamicModule {
    return {
      module: SampleCoreModule,
      providers: [
        { provide: SAMPLE_CONFIG, useValue: config },
        { provide: SAMPLE_NAMES, useValue: sampleNames(config.namespace) },
        { provide: SAMPLE_SERVICE, useValue: service },
        { provide: REDIS, useFactory: () => connectRedis(config.redisUrl, `${service}@${config.instanceId}`) },
        RedisCloser,
        OrderStore,
        Timeline,
        ServiceRegistry,
      ],
      exports: [SAMPLE_CONFIG, SAMPLE_NAMES, SAMPLE_SERVICE, REDIS, OrderStore, Timeline, ServiceRegistry],
    };
  }
}
