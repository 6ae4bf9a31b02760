#!/usr/bin/env node
// npm run start:sample: checks RabbitMQ and Redis, builds, and runs every sample
// service as a child process (output prefixed per service; Ctrl-C stops them all).
// Options: --no-build. Environment: AMQP_URL, REDIS_URL, ORDERS_PORT, PAYMENTS_INSTANCES, QUEUE_TYPE, ...
'use strict';
const path = require('node:path');
const { preflight, build, ROOT } = require('./start-sample.preflight');

(async () => {
  await preflight('start:sample');
  build();
  require(path.join(ROOT, 'dist/apps/launcher/src/main.js'));
})();
