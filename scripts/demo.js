#!/usr/bin/env node
// npm run demo: checks RabbitMQ, Redis and PostgreSQL, builds, starts every service, places a mix
// of orders and narrates what happens to each, prints a summary, cleans up and exits.
// Options: --no-build, --keep (leave the demo's queues and Redis keys for inspection),
//          --cluster (on a 3-node RabbitMQ cluster of its own, started and stopped here: see scripts/demo-cluster.js).
'use strict';
const path = require('node:path');
const { preflight, build, ROOT } = require('./start-sample.preflight');

(async () => {
  await preflight('demo');
  build();
  const main = path.join(ROOT, 'dist/apps/demo/src/main.js');
  if (process.argv.includes('--cluster')) {
    process.exitCode = await require('./demo-cluster').runOnCluster(main);
    return;
  }
  require(main);
})();
