// An order-writing application for fault 14, plain JavaScript against the BUILT library
// (`npm run test:faults` builds it). Killed with kill -9 by the test.
//
// WRITERS loops each take the next order number from SEQUENCE until it passes TOTAL, and in one
// transaction insert the order into ORDERS and its order.created event into the outbox (message
// id fixed from the order id, aggregate key = order id). Every tenth order (n % 10 = 7) is
// rolled back: its event must never be handled. With RELAY=1 the process also relays the outbox
// (WarrenOutboxModule), publishing with APP_ID so a delivery tells which instance sent it.
// Prints 'ready' once relaying, 'writers done' when the sequence is used up.
'use strict';
require('reflect-metadata');
const { Module } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { RabbitMQModule } = require('@warren/rabbitmq');
const { Outbox, WarrenOutboxModule } = require('@warren/rabbitmq/outbox');
const { Pool } = require('pg');

const env = process.env;
const WRITERS = Number(env.WRITERS || 0);
const TOTAL = Number(env.TOTAL || 0);

async function main() {
  const pool = new Pool({ connectionString: env.PG_URL, max: WRITERS + 3 });
  pool.on('error', () => undefined);
  class AppModule {}
  Module({
    imports: [
      RabbitMQModule.forRoot({ uri: env.AMQP_URL, appId: env.APP_ID, connectionName: env.APP_ID, connectionInitOptions: { wait: false } }),
      WarrenOutboxModule.forRoot({ pool, table: env.TABLE, relay: env.RELAY === '1', pollInterval: 200, batchSize: 200 }),
    ],
  })(AppModule);
  const app = await NestFactory.createApplicationContext(AppModule, { logger: ['error', 'warn'] });
  const outbox = app.get(Outbox);
  process.stdout.write('ready\n');

  const writer = async () => {
    for (;;) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const n = Number((await client.query(`SELECT nextval('${env.SEQUENCE}') AS n`)).rows[0].n);
        if (n > TOTAL) {
          await client.query('ROLLBACK');
          return;
        }
        const id = `order-${n}`;
        await client.query(`INSERT INTO ${env.ORDERS} (id, n) VALUES ($1, $2)`, [id, n]);
        await outbox.publish(client, env.EXCHANGE, env.ROUTING_KEY, { id }, { messageId: `order.created:${id}`, aggregateKey: id });
        await client.query(n % 10 === 7 ? 'ROLLBACK' : 'COMMIT');
      } finally {
        client.release();
      }
    }
  };
  if (WRITERS > 0) {
    await Promise.all(Array.from({ length: WRITERS }, writer));
    process.stdout.write('writers done\n');
  }
  process.on(
    'SIGTERM',
    () =>
      void app
        .close()
        .then(() => pool.end())
        .then(() => process.exit(0)),
  );
}

main().catch((error) => {
  process.stderr.write(`outbox worker failed: ${error && error.stack}\n`);
  process.exit(1);
});
