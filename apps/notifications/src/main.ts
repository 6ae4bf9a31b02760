import { NestFactory } from '@nestjs/core';
import { runService } from '../../common/src/run-service';
import { NotificationsModule } from './notifications.module';

void runService('notifications', (config) =>
  NestFactory.createApplicationContext(NotificationsModule.forRoot(config), { abortOnError: false, logger: config.logLevels }),
);
