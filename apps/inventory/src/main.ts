import { NestFactory } from '@nestjs/core';
import { runService } from '../../common/src/run-service';
import { InventoryModule } from './inventory.module';

void runService('inventory', (config) =>
  NestFactory.createApplicationContext(InventoryModule.forRoot(config), { abortOnError: false, logger: config.logLevels }),
);
