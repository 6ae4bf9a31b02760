import { Controller, Get, Inject, Res } from '@nestjs/common';
import { AmqpConnection } from '@warren/rabbitmq';
import type { Redis } from 'ioredis';
import { REDIS } from '../../../common/src/sample.tokens';
import { ServiceRegistry } from '../../../common/src/service-registry';
import type { HttpResponse } from '../http-response';

/** GET /health: 200 when this service reaches RabbitMQ and Redis, 503 otherwise; lists the other services' heartbeats. */
@Controller('health')
export class HealthController {
  constructor(
    private readonly amqp: AmqpConnection,
    private readonly registry: ServiceRegistry,
    @Inject(REDIS) private readonly redis: Redis,
  ) {}

  @Get()
  async check(@Res({ passthrough: true }) res: HttpResponse) {
    const redis = await this.redis
      .ping()
      .then(() => 'up' as const)
      .catch(() => 'down' as const);
    const services = redis === 'up' ? await this.registry.all().catch(() => []) : [];
    const healthy = this.amqp.isConnected && redis === 'up';
    res.status(healthy ? 200 : 503);
    return {
      status: healthy ? 'ok' : 'degraded',
      rabbitmq: this.amqp.status,
      redis,
      services: services.filter((s) => !s.stopped).map(({ service, instance, rabbitmq, at }) => ({ service, instance, rabbitmq, lastSeen: at })),
    };
  }
}
