#!/usr/bin/env node
// npm run demo: checks RabbitMQ and Redis, builds, starts every service, places a mix
// of orders and narrates what happens to each, prints a summary, cleans up and exits.
// Options: --no-build, --keep (leave the demo's queues and Redis keys for inspection).
'use strict';
const path = require('node:path');
const { preflight, build, ROOT } = require('./start-sample.preflight');

(async () => {
  await preflight('demo');
  build();
  require(path.join(ROOT, 'dist/apps/demo/src/main.js'));
})();
