import { NestFactory } from '@nestjs/core';
import { AmqpConnection, partitionQueueName, RabbitMQModule } from '@warren/rabbitmq';
import type { Redis } from 'ioredis';
import { Pool } from 'pg';
import type { SampleConfig } from '../../common/src/sample-config';
import type { SampleNames } from '../../common/src/sample-names';

/** Deletes a namespace's queues, exchanges, Redis keys and PostgreSQL schema (the shared retry wait queues stay: they empty themselves). */
export async function deleteNamespace(config: SampleConfig, names: SampleNames, redis: Redis): Promise<void> {
  // The library on its own, without any handler: a connection to delete what the services declared.
  const app = await NestFactory.createApplicationContext(RabbitMQModule.forRoot({ uri: config.amqpUrls, connectionName: 'sample-demo-cleanup' }), {
    logger: false,
  });
  try {
    const amqp = app.get(AmqpConnection);
    const partitions = Array.from({ length: config.paymentPartitions }, (_, i) => partitionQueueName(names.queues.payments, i));
    for (const queue of [...Object.values(names.queues), ...partitions]) await amqp.withChannel((channel) => channel.deleteQueue(queue)).catch(() => undefined);
    const partitionExchanges = config.paymentPartitions > 0 ? [`${names.queues.payments}.partitions`] : [];
    for (const exchange of [...Object.values(names.exchanges), ...partitionExchanges])
      await amqp.withChannel((channel) => channel.deleteExchange(exchange)).catch(() => undefined);
  } finally {
    await app.close();
  }
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${names.redisPrefix}*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
  const pool = new Pool({ connectionString: config.databaseUrl, max: 1 });
  try {
    await pool.query(`DROP SCHEMA IF EXISTS "${names.database.schema}" CASCADE`);
  } finally {
    await pool.end();
  }
}
