import { ValidationPipe, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { LogLevel, SampleConfig } from '../../common/src/sample-config';
import { OrdersModule } from './orders.module';

/** Creates the orders HTTP app (not listening yet); main.ts and the tests share it. */
export async function createOrdersApp(config: SampleConfig, options: { logger?: false | LogLevel[] } = {}): Promise<INestApplication> {
  const app = await NestFactory.create(OrdersModule.forRoot(config), { abortOnError: false, logger: options.logger });
  app.useGlobalPipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }));
  return app;
}
