import { Module, type DynamicModule } from '@nestjs/common';
import { RabbitMQModule, type QueueOptions } from '@warren/rabbitmq';
import { WarrenOutboxModule } from '@warren/rabbitmq/outbox';
import { RedisDedupStore } from '@warren/rabbitmq/redis';
import type { Pool } from 'pg';
import { OrderLedger } from '../../common/src/order-ledger';
import { baseRabbitOptions } from '../../common/src/rabbitmq-options';
import type { SampleConfig } from '../../common/src/sample-config';
import { SampleCoreModule } from '../../common/src/sample-core.module';
import { ORDERS_DB, SampleDatabaseModule } from '../../common/src/sample-database.module';
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
        // order.paid and the receipt are written with the payment into the orders' outbox; this
        // instance relays the table too (any number of relays may share it).
        SampleDatabaseModule.forRoot(config, 'payments'),
        WarrenOutboxModule.forRootAsync({
          inject: [ORDERS_DB],
          useFactory: (pool: Pool) => ({ pool, table: names.database.outbox, retention: 7 * 86_400_000 }),
        }),
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
                // On a cluster: partitions keyed by order id (order.created carries the key, see OrderLedger),
                // one active worker per partition, shared out among the workers. 'delay' keeps the sample's
                // retries in wait queues: each order has one payment message in flight, so its order holds.
                ...(config.paymentPartitions > 0
                  ? { partitions: { count: config.paymentPartitions, onFailure: 'delay' as const, heartbeatMs: config.heartbeatMs } }
                  : {}),
                retry: {
                  maxAttempts: retry.maxAttempts,
                  backoff: { type: 'exponential', initialDelay: retry.initialDelayMs, multiplier: 2, maxDelay: retry.maxDelayMs, jitter: retry.jitter },
                },
              },
            },
          }),
        }),
      ],
      providers: [PaymentGatewaySimulator, PaymentWorker, OrderLedger],
    };
  }
}
