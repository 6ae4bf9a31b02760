// A child process for the fault suite, plain JavaScript against the BUILT library
// (run `npm run build` first; `npm run test:faults` does). Killed with kill -9 by the tests.
//
// MODE=consumer: consumes QUEUE with dedup on a Redis store. Every handler run is counted
// (HINCRBY RUNS_KEY id), and its side effect is an SADD of the id into EFFECTS_KEY with an INCR
// of EFFECTS_COUNT_KEY in the same MULTI, so duplicate side effects = count - set size.
// A message { crash: true } takes the process down (SIGKILL) 50 ms into its handler.
// SIGUSR2 asks the process to hold: handlers in flight stop before their side effect, and once
// no side effect is between its SADD and the dedup store's completion, 'held' is printed; the
// test then kills it with kill -9. (That window — a few hundred µs — is the one no dedup store
// can close without making the side effect transactional with it; the suite does not aim there.)
//
// MODE=rpc: answers RPC requests on QUEUE after WORK_MS.
//
// MODE=partitioned: as consumer, on PARTITIONS ordered partition queues (quorum) of QUEUE, and the
// side effect also appends `key:seq` to ORDER_KEY (a Redis list: the order handlers ran across all
// processes), for the order checker.
//
// MODE=stream: reads the stream QUEUE from 'first' as reader READER, its position in Redis
// (RedisStreamOffsetStore, OFFSET_PREFIX); each handled message appends its seq to ORDER_KEY.
'use strict';
require('reflect-metadata');
const { Injectable, Module } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { RabbitMQModule, RabbitSubscribe, RabbitRPC, AmqpConnection } = require('@warren/rabbitmq');
const { RedisDedupStore, RedisStreamOffsetStore } = require('@warren/rabbitmq/redis');
const { Redis } = require('ioredis');

const env = process.env;
const MODE = env.MODE || 'consumer';
const WORK_MS = Number(env.WORK_MS || 2);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const never = new Promise(() => undefined);

let hold = false;
let atRisk = 0;
let redis;
let app;

async function untilSafe() {
  hold = true;
  while (atRisk > 0) await sleep(1);
  await sleep(30); // let the acks of completed handlers reach the socket
}

class Worker {
  async handle(payload) {
    await redis.hincrby(env.RUNS_KEY, payload.id, 1);
    if (payload.crash) {
      await sleep(50);
      await untilSafe();
      process.stdout.write(`crashing on ${payload.id}\n`);
      process.kill(process.pid, 'SIGKILL');
      await never;
    }
    await sleep(WORK_MS);
    if (hold) await never;
    atRisk++;
    try {
      const effect = redis.multi().sadd(env.EFFECTS_KEY, payload.id).incr(env.EFFECTS_COUNT_KEY);
      if (MODE === 'partitioned') effect.rpush(env.ORDER_KEY, `${payload.key}:${payload.seq}`);
      await effect.exec();
    } catch (error) {
      atRisk--;
      throw error;
    }
  }

  async read(payload) {
    await redis.rpush(env.ORDER_KEY, String(payload.seq));
  }

  async reply(payload) {
    await sleep(WORK_MS);
    return { n: payload.n, by: process.pid };
  }
}

/** The Redis store, counting completions so the hold can wait for side effects to be recorded. */
function countingStore() {
  const inner = new RedisDedupStore({ url: env.REDIS_URL, keyPrefix: env.DEDUP_PREFIX });
  return {
    claim: (key, lease) => inner.claim(key, lease),
    release: (key, token) => inner.release(key, token),
    complete: async (key, token, ttl) => {
      try {
        await inner.complete(key, token, ttl);
      } finally {
        atRisk--;
      }
    },
    close: () => inner.close(),
  };
}

const streamReader = () =>
  RabbitSubscribe({
    exchange: env.EXCHANGE,
    routingKey: env.QUEUE,
    queue: env.QUEUE,
    queueOptions: { type: 'stream' },
    prefetch: Number(env.PREFETCH || 100),
    stream: { offset: 'first', reader: env.READER, store: new RedisStreamOffsetStore({ url: env.REDIS_URL, keyPrefix: env.OFFSET_PREFIX }) },
  });
const decorator =
  MODE === 'stream'
    ? streamReader()
    : MODE === 'rpc'
      ? RabbitRPC({ exchange: env.EXCHANGE, routingKey: env.QUEUE, queue: env.QUEUE, prefetch: Number(env.PREFETCH || 50) })
      : RabbitSubscribe({
          exchange: env.EXCHANGE,
          routingKey: env.QUEUE,
          queue: env.QUEUE,
          prefetch: Number(env.PREFETCH || 20),
          queueOptions: env.QUEUE_TYPE === 'quorum' ? { type: 'quorum', deliveryLimit: Number(env.DELIVERY_LIMIT) } : {},
          deadLetter: true,
          dedup: { store: countingStore(), lease: Number(env.LEASE_MS || 1500) },
          ...(MODE === 'partitioned' ? { queueOptions: { type: 'quorum' }, partitions: { count: Number(env.PARTITIONS || 8), heartbeatMs: 500 } } : {}),
        });
const method = MODE === 'rpc' ? 'reply' : MODE === 'stream' ? 'read' : 'handle';
Reflect.decorate([decorator], Worker.prototype, method, Object.getOwnPropertyDescriptor(Worker.prototype, method));
Injectable()(Worker);

class AppModule {}
Module({
  imports: [
    RabbitMQModule.forRoot({
      uri: env.AMQP_URL.split(','),
      connectionName: env.CONNECTION_NAME,
      exchanges: [{ name: env.EXCHANGE, type: 'direct' }],
    }),
  ],
  providers: [Worker],
})(AppModule);

async function writeStats() {
  if (!app || MODE === 'rpc' || MODE === 'stream') return;
  const stats = app.get(AmqpConnection).getHandlerStats()['Worker.handle'];
  if (stats) await redis.hset(env.STATS_KEY, String(process.pid), String(stats.duplicates)).catch(() => undefined);
}

process.on('SIGUSR2', () => {
  void untilSafe()
    .then(writeStats)
    .then(() => process.stdout.write('held\n'));
});
process.on('SIGTERM', () => {
  void writeStats()
    .then(() => app?.close())
    .then(() => redis?.quit())
    .then(
      () => process.exit(0),
      () => process.exit(1),
    );
});

(async () => {
  if (MODE !== 'rpc') redis = new Redis(env.REDIS_URL);
  app = await NestFactory.createApplicationContext(AppModule, { logger: ['error', 'warn', 'log'] });
  setInterval(() => void writeStats(), 200).unref();
  process.stdout.write('ready\n');
})().catch((error) => {
  process.stderr.write(`${error && error.stack}\n`);
  process.exit(2);
});
