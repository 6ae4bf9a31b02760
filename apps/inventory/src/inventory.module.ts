import { Module, type DynamicModule } from '@nestjs/common';
import { RabbitMQModule } from '@warren/rabbitmq';
import { baseRabbitOptions } from '../../common/src/rabbitmq-options';
import type { SampleConfig } from '../../common/src/sample-config';
import { SampleCoreModule } from '../../common/src/sample-core.module';
import { HANDLERS, sampleNames } from '../../common/src/sample-names';
import { InventoryRpc } from './inventory.rpc';
import { StockRepository } from './stock.repository';

/** The inventory service: an RPC server over the `inventory` direct exchange, stock in Redis. */
@Module({})
export class InventoryModule {
  static forRoot(config: SampleConfig): DynamicModule {
    const names = sampleNames(config.namespace);
    return {
      module: InventoryModule,
      imports: [
        SampleCoreModule.forRoot(config, 'inventory'),
        RabbitMQModule.forRoot({
          ...baseRabbitOptions(config, names, 'inventory'),
          handlers: {
            [HANDLERS.inventoryReserve]: {
              exchange: names.exchanges.inventory,
              queue: names.queues.inventoryRpc,
              queueOptions: { type: config.queueType },
            },
          },
        }),
      ],
      providers: [StockRepository, InventoryRpc],
    };
  }
}
