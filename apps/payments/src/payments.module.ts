import { Module, type DynamicModule } from '@nestjs/common';
import { RabbitMQModule, type QueueOptions } from '@warren/rabbitmq';
import { RedisDedupStore } from '@warren/rabbitmq/redis';
import { baseRabbitOptions } from '../../common/src/rabbitmq-options';
import type { SampleConfig } from '../../common/src/sample-config';
import { SampleCoreModule } from '../../common/src/sample-core.module';
import { HANDLERS, sampleNames } from '../../common/src/sample-names';
import { PaymentGatewaySimulator } from './payment-gateway.simulator';
import { PaymentWorker } from './payment.worker';

/**
 * The payments worker. Run as many instances as you like: they compete for one
 * queue, and the dedup store in Redis is shared, so an order is charged once.
 */
@Module({})
export class PaymentsModule {
  static forRoot(config: SampleConfig): DynamicModule {
    const names = sampleNames(config.namespace);
    const retry = config.paymentRetry;
    // Quorum queues (cluster): replicated; the delivery limit dead-letters a message that crashes its consumer again and again.
    const queueOptions: QueueOptions = config.queueType === 'quorum' ? { type: 'quorum', deliveryLimit: 10 } : {};
    return {
      module: PaymentsModule,
      imports: [
        SampleCoreModule.forRoot(config, 'payments'),
        RabbitMQModule.forRootAsync({
          useFactory: () => ({
            ...baseRabbitOptions(config, names, 'payments'),
            // One store for every handler of this connection; the library closes it (it owns the client it made from the URL).
            defaultDedup: { store: new RedisDedupStore({ url: config.redisUrl, keyPrefix: names.keys.dedupPrefix }) },
            handlers: {
              [HANDLERS.paymentsCharge]: {
                exchange: names.exchanges.orders,
                queue: names.queues.payments,
                queueOptions,
                retry: {
                  maxAttempts: retry.maxAttempts,
                  backoff: { type: 'exponential', initialDelay: retry.initialDelayMs, multiplier: 2, maxDelay: retry.maxDelayMs, jitter: retry.jitter },
                },
              },
            },
          }),
        }),
      ],
      providers: [PaymentGatewaySimulator, PaymentWorker],
    };
  }
}
