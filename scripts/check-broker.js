#!/usr/bin/env node
// Runs before the tests: on a fresh clone installs the dependencies, then makes sure RabbitMQ
// (any URL of the comma-separated AMQP_URL) and Redis (REDIS_URL) answer — starting local ones
// when they are installed — and says how to start them if not. Never hangs.
'use strict';
const { ensureDependencies, ensureServices } = require('./lib/setup');

ensureDependencies();
ensureServices('test').catch((error) => {
  console.error(`\nCould not check the services: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
