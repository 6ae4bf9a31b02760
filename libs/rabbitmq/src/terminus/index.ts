/** `@warren/rabbitmq/terminus`: a @nestjs/terminus health indicator (an optional peer dependency). */
export { RabbitMQHealthIndicator } from './rabbitmq.health-indicator';
export type { RabbitMQHealthOptions } from './rabbitmq.health-indicator';
