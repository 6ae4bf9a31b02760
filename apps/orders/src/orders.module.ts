import { Module, type DynamicModule } from '@nestjs/common';
import { RabbitMQModule } from '@warren/rabbitmq';
import { baseRabbitOptions } from '../../common/src/rabbitmq-options';
import type { SampleConfig } from '../../common/src/sample-config';
import { SampleCoreModule } from '../../common/src/sample-core.module';
import { sampleNames } from '../../common/src/sample-names';
import { AdminController } from './admin/admin.controller';
import { SummaryService } from './admin/summary.service';
import { HealthController } from './health/health.controller';
import { InventoryClient } from './inventory.client';
import { OrdersController } from './orders.controller';
import { OrdersService } from './orders.service';

/** The orders HTTP API, plus the admin and health endpoints. It publishes and calls RPC; it consumes nothing. */
@Module({})
export class OrdersModule {
  static forRoot(config: SampleConfig): DynamicModule {
    const names = sampleNames(config.namespace);
    return {
      module: OrdersModule,
      imports: [
        SampleCoreModule.forRoot(config, 'orders'),
        RabbitMQModule.forRoot({ ...baseRabbitOptions(config, names, 'orders'), defaultRpcTimeout: config.inventoryTimeoutMs }),
      ],
      controllers: [OrdersController, AdminController, HealthController],
      providers: [OrdersService, InventoryClient, SummaryService],
    };
  }
}
