import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { AmqpConnectionRegistry } from './facade/amqp-connection.registry';
import { RabbitMQMetadataAccessor } from './discovery/rabbitmq-metadata.accessor';
import { RabbitMQExplorer } from './discovery/rabbitmq.explorer';
import { RabbitMQLifecycle } from './rabbitmq-lifecycle.service';
import { DeadLetterService } from './facade/dead-letter.service';

/** What every connection of an application shares: the registry, handler discovery and the lifecycle. */
@Module({
  imports: [DiscoveryModule],
  providers: [AmqpConnectionRegistry, RabbitMQMetadataAccessor, RabbitMQExplorer, RabbitMQLifecycle, DeadLetterService],
  exports: [AmqpConnectionRegistry, DeadLetterService],
})
export class RabbitMQCoreModule {}
