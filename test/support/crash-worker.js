// A consumer process for crash tests: plain JavaScript against the built library.
// Its handler kills its own process (SIGKILL) for messages marked { crash: true },
// as a handler that takes the process down would; others are recorded on stdout.
'use strict';
require('reflect-metadata');
const { Injectable, Module } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { RabbitMQModule, RabbitSubscribe } = require('@warren/rabbitmq');

const { AMQP_URL, QUEUE, EXCHANGE, DELIVERY_LIMIT, QUEUE_TYPE } = process.env;

class Worker {
  handle(payload) {
    if (payload.crash) process.kill(process.pid, 'SIGKILL');
    process.stdout.write(`handled ${JSON.stringify(payload)}\n`);
  }
}
Reflect.decorate(
  [
    RabbitSubscribe({
      exchange: EXCHANGE,
      routingKey: QUEUE,
      queue: QUEUE,
      prefetch: 1,
      queueOptions: QUEUE_TYPE === 'quorum' ? { type: 'quorum', deliveryLimit: Number(DELIVERY_LIMIT) } : {},
      deadLetter: true,
    }),
  ],
  Worker.prototype,
  'handle',
  Object.getOwnPropertyDescriptor(Worker.prototype, 'handle'),
);
Injectable()(Worker);

class AppModule {}
Module({
  imports: [RabbitMQModule.forRoot({ uri: AMQP_URL, exchanges: [{ name: EXCHANGE, type: 'direct' }] })],
  providers: [Worker],
})(AppModule);

NestFactory.createApplicationContext(AppModule, { logger: ['error'] })
  .then(() => process.stdout.write('ready\n'))
  .catch((error) => {
    process.stderr.write(`${error.stack}\n`);
    process.exit(2);
  });
