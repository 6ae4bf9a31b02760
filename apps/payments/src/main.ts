import { NestFactory } from '@nestjs/core';
import { runService } from '../../common/src/run-service';
import { PaymentsModule } from './payments.module';

void runService('payments', (config) =>
  NestFactory.createApplicationContext(PaymentsModule.forRoot(config), { abortOnError: false, logger: config.logLevels }),
);
