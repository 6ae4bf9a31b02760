// `npm run demo -- --cluster`: boots a 3-node RabbitMQ cluster on this machine (no Docker; the fault
// suite's node script test/faults/support/cluster.sh on a port base of its own, so neither the default
// broker at 5672 nor another run's nodes are touched), runs the demo against it with quorum queues and
// partitioned payments, and stops and deletes the cluster whatever happens.
// Env: WARREN_DEMO_CLUSTER_PORT  port base (AMQP base+1..3, Erlang distribution base+20001..3); default:
//      the first of 5760, 5770, ... whose ports are all free. WARREN_DEMO_PARTITIONS (default 6).
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const net = require('node:net');
const path = require('node:path');
const { ROOT } = require('./lib/setup');

const SCRIPT = path.join(ROOT, 'test/faults/support/cluster.sh');

function portFree(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(true));
  });
}

async function choosePortBase() {
  if (process.env.WARREN_DEMO_CLUSTER_PORT) return Number(process.env.WARREN_DEMO_CLUSTER_PORT);
  for (let base = 5760; base < 5900; base += 10) {
    const ports = [1, 2, 3, 4, 5].flatMap((i) => [base + i, base + 20000 + i]);
    const free = await Promise.all(ports.map(portFree));
    if (free.every(Boolean)) return base;
  }
  throw new Error('no free port base for the demo cluster between 5760 and 5900; set WARREN_DEMO_CLUSTER_PORT');
}

function cluster(env, ...args) {
  return spawnSync('bash', [SCRIPT, ...args], { env, stdio: ['ignore', 'inherit', 'inherit'], timeout: 300_000 }).status === 0;
}

/** Starts the cluster, runs the demo's compiled main against it, stops the cluster; resolves with the demo's exit code. */
async function runOnCluster(main) {
  const base = await choosePortBase();
  const env = { ...process.env, WARREN_FAULT_PORT: String(base) };
  const urls = [1, 2, 3].map((i) => `amqp://guest:guest@127.0.0.1:${base + i}`);
  console.log(`Starting a 3-node RabbitMQ cluster on ports ${base + 1}-${base + 3} (test/faults/support/cluster.sh)...`);
  const started = Date.now();
  let code = 1;
  try {
    if (!cluster(env, 'start')) throw new Error('the cluster did not start (see the lines above)');
    console.log(`Cluster up in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
    const child = spawn(process.execPath, [main, ...process.argv.slice(2)], {
      env: {
        ...env,
        AMQP_URL: urls.join(','),
        QUEUE_TYPE: 'quorum',
        PAYMENT_PARTITIONS: process.env.WARREN_DEMO_PARTITIONS ?? '6',
        WARREN_DEMO_CLUSTER_SCRIPT: SCRIPT,
      },
      stdio: 'inherit',
    });
    const stopChild = () => child.kill('SIGINT');
    process.on('SIGINT', stopChild);
    code = await new Promise((resolve) => child.once('exit', (exit, signal) => resolve(exit ?? (signal ? 130 : 1))));
    process.off('SIGINT', stopChild);
  } catch (error) {
    console.error(error.message);
  } finally {
    process.stdout.write('Stopping the cluster... ');
    console.log(cluster(env, 'stop') ? 'stopped and deleted.' : 'FAILED: run `WARREN_FAULT_PORT=' + base + ' bash test/faults/support/cluster.sh stop`');
  }
  return code;
}

module.exports = { runOnCluster };
