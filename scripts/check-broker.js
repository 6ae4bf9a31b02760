#!/usr/bin/env node
// Runs before the tests: checks that a RabbitMQ broker answers at AMQP_URL and
// that Redis answers at REDIS_URL, and says how to start them if not. Never hangs.
'use strict';
const { endpoint, amqpPort, probe, mask } = require('./lib/tcp-probe');

const amqpUrl = process.env.AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672';
const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

(async () => {
  const masked = mask(amqpUrl);
  const amqp = endpoint(amqpUrl, amqpPort(amqpUrl));
  const redis = endpoint(redisUrl, 6379);
  const problems = [];
  if (!(await probe(amqp))) {
    problems.push(
      `No RabbitMQ broker answers at ${masked}.\n` +
        `  Start one:   rabbitmq-server -detached            (Debian/Ubuntu: apt-get install -y rabbitmq-server)\n` +
        `          or:  docker run -d -p 5672:5672 rabbitmq:3-management\n` +
        `  or point the tests at a reachable broker:  AMQP_URL=amqp://user:pass@host:5672 npm test`,
    );
  }
  if (!(await probe(redis))) {
    problems.push(
      `No Redis answers at ${redisUrl} (the dedup tests need it).\n` +
        `  Start one:   redis-server --daemonize yes          (or: docker run -d -p 6379:6379 redis:7)\n` +
        `  or set REDIS_URL=redis://host:6379`,
    );
  }
  if (problems.length > 0) {
    console.error(`\nThe end-to-end tests need real services:\n\n${problems.join('\n\n')}\n`);
    process.exit(1);
  }
})();
