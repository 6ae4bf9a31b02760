// Shared by `npm run start:sample` and `npm run demo`: checks that RabbitMQ and Redis
// answer (TCP, a few seconds at most) and builds the library and the sample services.
// Plain JavaScript so it runs before anything is compiled.
'use strict';
const { endpoint, probe, mask } = require('./lib/tcp-probe');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const ROOT = path.join(__dirname, '..');

function amqpUrls() {
  return (process.env.AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672')
    .split(',')
    .map((u) => u.trim())
    .filter(Boolean);
}

function redisUrl() {
  return process.env.REDIS_URL || 'redis://127.0.0.1:6379';
}

/** Exits with code 1 and instructions when the broker or Redis does not answer. */
async function preflight(what) {
  const problems = [];
  const brokers = amqpUrls();
  const reachable = await Promise.all(brokers.map((url) => probe(endpoint(url, url.startsWith('amqps') ? 5671 : 5672))));
  if (!reachable.some(Boolean)) {
    problems.push(
      `No RabbitMQ broker answers at ${brokers.map(mask).join(', ')}.\n` +
        `  Start one:   rabbitmq-server -detached                (Debian/Ubuntu: apt-get install -y rabbitmq-server)\n` +
        `          or:  docker run -d --name rabbitmq -p 5672:5672 -p 15672:15672 rabbitmq:3.13-management\n` +
        `  or point the sample at yours:  AMQP_URL=amqp://user:pass@host:5672 npm run ${what}\n` +
        `  (or run everything in containers instead: docker compose up --build)`,
    );
  }
  const redis = redisUrl();
  if (!(await probe(endpoint(redis, 6379)))) {
    problems.push(
      `No Redis answers at ${mask(redis)} (orders, stock, payments and the dedup store live there).\n` +
        `  Start one:   redis-server --daemonize yes             (or: docker run -d --name redis -p 6379:6379 redis:7)\n` +
        `  or set REDIS_URL=redis://host:6379`,
    );
  }
  if (problems.length > 0) {
    console.error(`\nThe sample needs RabbitMQ and Redis:\n\n${problems.join('\n\n')}\n`);
    process.exit(1);
  }
}

/** Compiles the library and the apps (tsc); skipped with --no-build or SKIP_BUILD=1. */
function build() {
  if (process.argv.includes('--no-build') || process.env.SKIP_BUILD === '1') return;
  const tsc = require.resolve('typescript/bin/tsc', { paths: [ROOT] });
  for (const [label, project] of [
    ['library', 'libs/rabbitmq/tsconfig.lib.json'],
    ['sample services', 'apps/tsconfig.build.json'],
  ]) {
    process.stdout.write(`Building the ${label} (tsc -p ${project})... `);
    const started = Date.now();
    const result = spawnSync(process.execPath, [tsc, '-p', project], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
    if (result.status !== 0) {
      console.error(`failed:\n${result.stdout}${result.stderr}`);
      process.exit(1);
    }
    console.log(`${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
}

module.exports = { preflight, build, ROOT };
