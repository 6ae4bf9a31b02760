import { Module, type DynamicModule } from '@nestjs/common';
import { RabbitMQModule } from '@warren/rabbitmq';
import { WarrenDashboardModule } from '@warren/rabbitmq/dashboard';
import { OutboxRelay, WarrenOutboxModule } from '@warren/rabbitmq/outbox';
import type { Pool } from 'pg';
import { baseRabbitOptions } from '../../common/src/rabbitmq-options';
import type { SampleConfig } from '../../common/src/sample-config';
import { SampleCoreModule } from '../../common/src/sample-core.module';
import { sampleNames } from '../../common/src/sample-names';
import { AdminController } from './admin/admin.controller';
import { DASHBOARD_PATH } from './dashboard-path';
import { SummaryService } from './admin/summary.service';
import { HealthController } from './health/health.controller';
import { InventoryClient } from './inventory.client';
import { OrderLedger } from '../../common/src/order-ledger';
import { ORDERS_DB, SampleDatabaseModule } from '../../common/src/sample-database.module';
import { OrdersController } from './orders.controller';
import { OrdersService } from './orders.service';

/**
 * The orders HTTP API, plus the admin and health endpoints and Warren's dashboard at `/warren`. It keeps
 * accepted orders in PostgreSQL and publishes order.created through the transactional outbox (which it
 * relays); it calls RPC; it consumes nothing, so the dashboard is told the sample's queues and its
 * dead-letter queue.
 */
@Module({})
export class OrdersModule {
  static forRoot(config: SampleConfig): DynamicModule {
    const names = sampleNames(config.namespace);
    return {
      module: OrdersModule,
      imports: [
        SampleCoreModule.forRoot(config, 'orders'),
        RabbitMQModule.forRoot({ ...baseRabbitOptions(config, names, 'orders'), defaultRpcTimeout: config.inventoryTimeoutMs }),
        // Unauthenticated, like the admin endpoints: in a real service pass `authGuard` (see docs/dashboard.md).
        WarrenDashboardModule.forRoot({
          path: DASHBOARD_PATH,
          deadLetterQueues: [names.queues.paymentsDlq],
          queues: Object.values(names.queues).filter((queue) => queue !== names.queues.paymentsDlq),
          // The customer id is personal data: operators see the order, not who placed it.
          maskPaths: ['customerId'],
          // Outbox rows the relay parked or marked failed, with replay: the Outbox page.
          outbox: OutboxRelay,
        }),
        SampleDatabaseModule.forRoot(config, 'orders'),
        // Sent rows are kept a week: the summary checks every order of the last day has its event.
        WarrenOutboxModule.forRootAsync({
          inject: [ORDERS_DB],
          useFactory: (pool: Pool) => ({ pool, table: names.database.outbox, retention: 7 * 86_400_000 }),
        }),
      ],
      controllers: [OrdersController, AdminController, HealthController],
      providers: [OrdersService, InventoryClient, SummaryService, OrderLedger],
    };
  }
}
