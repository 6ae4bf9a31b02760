// What the README's two commands (npm run demo, npm test) do before anything else on a fresh
// clone: install the dependencies when they are missing, and make sure RabbitMQ, Redis and
// PostgreSQL answer — starting local ones when they are installed, or with Docker when only Docker is
// there — or else say what to do. Plain JavaScript with no dependency, so it runs before
// `npm ci`. Never a stack trace, never a hang.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { endpoint, amqpPort, probe, mask } = require('./tcp-probe');

const ROOT = path.join(__dirname, '..', '..');

function amqpUrls() {
  return (process.env.AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672')
    .split(',')
    .map((u) => u.trim())
    .filter(Boolean);
}

function redisUrl() {
  return process.env.REDIS_URL || 'redis://127.0.0.1:6379';
}

function databaseUrl() {
  return process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
}

/** Starts every local PostgreSQL cluster (Debian's pg_ctlcluster); without it, Docker Compose is tried. */
const POSTGRES_START = has('pg_ctlcluster')
  ? ['sh', '-c', 'pg_lsclusters -h | while read version cluster rest; do pg_ctlcluster "$version" "$cluster" start; done']
  : ['pg_ctlcluster'];

function fail(message) {
  console.error(`\n${message}\n`);
  process.exit(1);
}

/** Runs `npm ci` when node_modules is missing or was installed from another lockfile. */
function ensureDependencies() {
  const installed = path.join(ROOT, 'node_modules', '.package-lock.json');
  const lock = path.join(ROOT, 'package-lock.json');
  if (fs.existsSync(installed) && fs.statSync(installed).mtimeMs >= fs.statSync(lock).mtimeMs) return;
  console.log('Installing dependencies (npm ci)...');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const result = spawnSync(npm, ['ci', '--no-audit', '--no-fund'], { cwd: ROOT, stdio: 'inherit' });
  if (result.status !== 0) fail('npm ci failed (see above). Check that the npm registry is reachable, then run the command again.');
}

function has(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

function isLocal(host) {
  return host === '127.0.0.1' || host === 'localhost' || host === '::1';
}

async function waitFor(target, seconds) {
  for (let i = 0; i < seconds * 2; i++) {
    if (await probe(target, 500)) return true;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return false;
}

/** Starts a local service with its own command, or with Docker Compose; true once it answers. */
async function start(name, target, command, composeService) {
  if (!isLocal(target.host)) return false;
  if (has(command[0])) {
    console.log(`Starting ${name} (${command.join(' ')})...`);
    spawnSync(command[0], command.slice(1), { stdio: 'ignore' });
    return waitFor(target, 90);
  }
  if (has('docker') && spawnSync('docker', ['compose', 'version'], { stdio: 'ignore' }).status === 0) {
    console.log(`Starting ${name} with Docker (docker compose up -d ${composeService})...`);
    spawnSync('docker', ['compose', 'up', '-d', composeService], { cwd: ROOT, stdio: 'inherit' });
    return waitFor(target, 120);
  }
  return false;
}

/** Makes sure RabbitMQ (any of the AMQP_URL list), Redis and PostgreSQL answer; exits with instructions if they cannot. */
async function ensureServices(what) {
  const problems = [];
  const brokers = amqpUrls();
  const targets = brokers.map((url) => endpoint(url, amqpPort(url)));
  const up = (await Promise.all(targets.map((t) => probe(t)))).some(Boolean);
  if (!up && !(await start('RabbitMQ', targets[0], ['rabbitmq-server', '-detached'], 'rabbitmq'))) {
    problems.push(
      `No RabbitMQ broker answers at ${brokers.map(mask).join(', ')}.\n` +
        `  Install and start one:  apt-get install -y rabbitmq-server && rabbitmq-server -detached\n` +
        `                     or:  docker run -d --name rabbitmq -p 5672:5672 rabbitmq:3.13-management\n` +
        `  or point it at yours:   AMQP_URL=amqp://user:pass@host:5672 npm ${what}`,
    );
  }
  const redis = endpoint(redisUrl(), 6379);
  if (!(await probe(redis)) && !(await start('Redis', redis, ['redis-server', '--daemonize', 'yes', '--save', '', '--appendonly', 'no'], 'redis'))) {
    problems.push(
      `No Redis answers at ${mask(redisUrl())}.\n` +
        `  Install and start one:  apt-get install -y redis-server && redis-server --daemonize yes\n` +
        `                     or:  docker run -d --name redis -p 6379:6379 redis:7\n` +
        `  or set REDIS_URL=redis://host:6379`,
    );
  }
  const postgres = endpoint(databaseUrl(), 5432);
  if (!(await probe(postgres)) && !(await start('PostgreSQL', postgres, POSTGRES_START, 'postgres'))) {
    problems.push(
      `No PostgreSQL answers at ${mask(databaseUrl())} (the orders service keeps its orders and outbox there).\n` +
        `  Install and start one:  apt-get install -y postgresql && pg_ctlcluster 15 main start\n` +
        `                     or:  docker run -d --name postgres -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust postgres:16\n` +
        `  or set DATABASE_URL=postgres://user@host:5432/db`,
    );
  }
  if (problems.length > 0) fail(`npm ${what} needs RabbitMQ, Redis and PostgreSQL:\n\n${problems.join('\n\n')}`);
}

module.exports = { ensureDependencies, ensureServices, amqpUrls, redisUrl, databaseUrl, ROOT };
