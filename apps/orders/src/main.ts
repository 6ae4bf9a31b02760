import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Logger } from '@nestjs/common';
import { runService } from '../../common/src/run-service';
import { createOrdersApp } from './orders.app';
import { DASHBOARD_PATH } from './dashboard-path';

void runService('orders', async (config) => {
  const app = await createOrdersApp(config, { logger: config.logLevels });
  await app.listen(config.ordersPort);
  const { port } = (app.getHttpServer() as Server).address() as AddressInfo;
  new Logger('orders').log(`HTTP API on http://localhost:${port}  (POST /orders, GET /orders/:id, GET /admin/summary, GET /health)`);
  new Logger('orders').log(`Warren dashboard on http://localhost:${port}${DASHBOARD_PATH}  (handlers, queues, dead letters with replay, connections)`);
  return app;
});
