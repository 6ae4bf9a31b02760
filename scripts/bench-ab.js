#!/usr/bin/env node
'use strict';
/*
 * Side-by-side checks behind the benchmark's figures: one scenario, a few contenders, interleaved
 * rounds, each trial in a fresh process, medians printed. Used to find what a ratio in
 * bench/results is made of (see bench/README.md, "Side-by-side checks").
 *
 *   node scripts/bench-ab.js publish raw raw+props warren            # 5 rounds of each
 *   node scripts/bench-ab.js publish raw+props-mandatory raw+props-messageId raw+props-timestamp
 *   node scripts/bench-ab.js rpc raw raw+props warren
 *   WARREN_B=/path/to/other/checkout node scripts/bench-ab.js publish warren warren-b
 *
 * Contenders: `raw` (the bench reference: persistent, contentType, the frames of a turn of the event
 * loop in one socket write), `raw-plain` (the same without that coalescing), `raw+props` (plus what Warren
 * sends: mandatory, timestamp, a 27-character messageId; for rpc: mandatory, expiration,
 * timestamp), `raw+props-<name>` (raw+props without one of them), `raw+props@<n>` (ids of n characters),
 * `raw+frames` and `raw+props+frames` (raw and raw+props with Warren's one-buffer publish encoding,
 * libs/rabbitmq/src/connection/publish-frames.ts, from this checkout's dist), `warren` (this checkout's
 * libs/rabbitmq/dist), `warren-b` (the dist and node_modules of the checkout in WARREN_B, e.g. an
 * older commit: `git worktree add /tmp/old <rev> && cd /tmp/old && npm ci && npm run build`).
 * RPC only: `warren-client` (Warren calls, the raw server answers), `warren-server` (the raw caller
 * with Warren's request properties, a Warren @RabbitRPC handler answers), each half on a connection
 * of its own, and `raw+props/2` (raw+props with the server on a second connection) to compare them with.
 * Options through the environment: ROUNDS (5), COUNT (publish 60000, rpc 20000), CONCURRENCY
 * (publish 100, rpc 50), AMQP_URL. Publish: 1 KB JSON, persistent, confirms, COUNT in flight
 * windows of CONCURRENCY. RPC: the server in the same process, direct reply-to.
 */
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const URL = process.env.AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672';

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function main() {
  const [scenario, ...contenders] = process.argv.slice(2);
  if (!['publish', 'rpc'].includes(scenario) || contenders.length === 0) {
    console.error('usage: node scripts/bench-ab.js publish|rpc <contender>... (see the header of this file)');
    process.exit(2);
  }
  const rounds = Number(process.env.ROUNDS || 5);
  const results = new Map(contenders.map((c) => [c, []]));
  for (let round = 0; round < rounds; round++) {
    // Rotate the order each round, as the bench does.
    const order = contenders.map((_, i) => contenders[(i + round) % contenders.length]);
    for (const contender of order) {
      const run = spawnSync(process.execPath, ['--expose-gc', __filename, '--trial', scenario, contender], { encoding: 'utf8', env: process.env });
      const line = (run.stdout || '').split('\n').find((l) => l.startsWith('RESULT '));
      if (!line) {
        console.error(`${contender}: trial failed\n${run.stderr}`);
        process.exit(1);
      }
      const result = JSON.parse(line.slice(7));
      results.get(contender).push(result);
      console.log(`round ${round + 1} ${contender}: ${result.rate.toFixed(0)}/s, ${result.cpu.toFixed(2)} µs client CPU per operation`);
    }
  }
  console.log(`\n${scenario}, medians of ${rounds} rounds:`);
  const base = median(results.get(contenders[0]).map((r) => r.cpu));
  const baseRate = median(results.get(contenders[0]).map((r) => r.rate));
  for (const [contender, runs] of results) {
    const rate = median(runs.map((r) => r.rate));
    const cpu = median(runs.map((r) => r.cpu));
    console.log(
      `  ${contender.padEnd(24)} ${rate.toFixed(0).padStart(7)}/s (${(rate / baseRate).toFixed(2)}×)  ${cpu.toFixed(2).padStart(7)} µs CPU (${(cpu / base).toFixed(2)}×)`,
    );
  }
}

// --- one trial, in its own process ---------------------------------------------------------

/** The bench reference's write coalescing (bench/src/support/coalesce-writes.ts), for every raw connection but raw-plain's. */
function connectRaw(amqp, contender) {
  const coalesce = contender === 'raw-plain' ? undefined : coalescer();
  // raw+frames, raw+props+frames: the raw client with Warren's one-buffer publish encoding.
  const frames = contender.endsWith('+frames')
    ? require(path.join(ROOT, 'libs/rabbitmq/dist/connection/amqplib-internals')).encodePublishesInOneBuffer
    : undefined;
  return async () => {
    const model = await amqp.connect(URL, { noDelay: true });
    if (coalesce) coalesce(model);
    if (frames && !frames(model)) throw new Error('the one-buffer encoding could not be applied');
    return model;
  };
}

function coalescer() {
  const file = path.join(ROOT, 'bench/dist/support/coalesce-writes.js');
  if (!require('node:fs').existsSync(file)) throw new Error('the bench is not built: npx tsc -p bench/tsconfig.json');
  return require(file).coalesceSocketWrites;
}

function load(contender) {
  const other = contender === 'warren-b';
  if (other && !process.env.WARREN_B) throw new Error('warren-b needs WARREN_B=<path of another checkout>');
  const root = other ? path.resolve(process.env.WARREN_B) : ROOT;
  const from = (name) => require(require.resolve(name, { paths: [root] }));
  return { from, warren: () => require(path.join(root, 'libs/rabbitmq/dist')), amqp: from('amqplib') };
}

function propertiesOf(contender, scenario, messageIds) {
  if (contender.endsWith('+frames')) contender = contender.slice(0, -'+frames'.length);
  if (contender === 'raw' || contender === 'raw-plain') return {};
  const all = scenario === 'publish' ? ['mandatory', 'timestamp', 'messageId'] : ['mandatory', 'expiration', 'timestamp'];
  const without = contender.startsWith('raw+props-') ? contender.slice('raw+props-'.length) : undefined;
  if (contender === 'raw+props/2') contender = 'raw+props';
  // raw+props@36: message ids of 36 characters instead of Warren's 27 (RabbitMQ 3.x is slower from 32).
  const idLength = contender.startsWith('raw+props@') ? Number(contender.slice('raw+props@'.length)) : undefined;
  if (without !== undefined && !all.includes(without)) throw new Error(`${contender}: no property '${without}' (one of ${all.join(', ')})`);
  return () => {
    const props = {};
    for (const name of all) {
      if (name === without) continue;
      if (name === 'mandatory') props.mandatory = true;
      if (name === 'timestamp') props.timestamp = Date.now();
      if (name === 'expiration') props.expiration = '10000';
      if (name === 'messageId') props.messageId = idLength === undefined ? messageIds.next() : messageIds.next().padStart(idLength, 'x').slice(-idLength);
    }
    return props;
  };
}

async function runBounded(count, concurrency, fn) {
  let next = 0;
  let done = 0;
  await new Promise((resolve, reject) => {
    const start = () => {
      const i = next++;
      fn(i).then(() => {
        done++;
        if (next < count) start();
        else if (done === count) resolve();
      }, reject);
    };
    for (let k = 0; k < Math.min(concurrency, count); k++) start();
  });
}

/** The reference's RPC server: replies on its own channel, acks after handing the reply to the socket. */
async function rawServer(server, tag, encode) {
  await server.assertQueue(tag, { durable: true });
  await server.bindQueue(tag, tag, tag);
  await server.prefetch(50);
  await server.consume(tag, (m) => {
    if (!m) return;
    server.sendToQueue(m.properties.replyTo, encode(JSON.parse(m.content.toString())), {
      correlationId: m.properties.correlationId,
      contentType: 'application/json',
    });
    server.ack(m);
  });
}

/** The reference's RPC caller: direct reply-to, a correlation map and a timer per call; `more()` adds properties. */
async function rawCaller(client, tag, encode, more) {
  const extra = typeof more === 'function' ? more : () => more;
  const waiting = new Map();
  await client.consume(
    'amq.rabbitmq.reply-to',
    (m) => {
      const w = m && waiting.get(m.properties.correlationId);
      if (!w) return;
      waiting.delete(m.properties.correlationId);
      clearTimeout(w.timer);
      w.resolve(JSON.parse(m.content.toString()));
    },
    { noAck: true },
  );
  let seq = 0;
  return (p) =>
    new Promise((resolve, reject) => {
      const id = String(++seq);
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error('timeout'));
      }, 10000);
      waiting.set(id, { resolve, timer });
      client.publish(tag, tag, encode(p), { contentType: 'application/json', replyTo: 'amq.rabbitmq.reply-to', correlationId: id, ...extra() });
    });
}

/** Warren's module options in every trial: TCP_NODELAY, prefetch 50, the trial's exchange. */
function warrenRoot(tag) {
  return {
    uri: URL,
    noDelay: true,
    prefetchCount: 50,
    exchanges: [{ name: tag, type: 'direct', options: { durable: false } }],
    connectionInitOptions: { wait: true },
  };
}

/** A provider whose @RabbitRPC handler echoes the request, decorated by hand. */
function echoServer(lib, W, tag) {
  const { Injectable } = lib.from('@nestjs/common');
  class EchoServer {
    echo(message) {
      return message;
    }
  }
  W.RabbitRPC({ exchange: tag, routingKey: tag, queue: tag })(EchoServer.prototype, 'echo', Object.getOwnPropertyDescriptor(EchoServer.prototype, 'echo'));
  Injectable()(EchoServer);
  return EchoServer;
}

async function startWarren(lib, module) {
  lib.from('reflect-metadata');
  const { Test } = lib.from('@nestjs/testing');
  const moduleRef = await Test.createTestingModule(module).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return app;
}

async function trial(scenario, contender) {
  const lib = load(contender);
  const { amqp } = lib;
  const publish = scenario === 'publish';
  const count = Number(process.env.COUNT || (publish ? 60000 : 20000));
  const concurrency = Number(process.env.CONCURRENCY || (publish ? 100 : 50));
  const rpcOnly = ['warren-client', 'warren-server', 'raw+props/2'];
  if (publish && rpcOnly.includes(contender)) throw new Error(`${contender} is an RPC contender (${rpcOnly.join(', ')} are for rpc only)`);
  const tag = `warren.ab.${process.pid}`;
  const admin = await amqp.connect(URL);
  const setup = await admin.createChannel();
  await setup.assertExchange(tag, 'direct', { durable: false, autoDelete: false });
  const payload = (i) => ({ id: i, text: 'x'.repeat(1000) });
  const encode = (p) => Buffer.from(JSON.stringify(p));
  let call;
  let close;
  if (!publish && (contender === 'warren-client' || contender === 'warren-server')) {
    // Half Warren, half the raw reference (with Warren's request properties), each on its own
    // connection: tells whether a difference in RPC lies on the calling or the answering side.
    const warrenServes = contender === 'warren-server';
    const connection = await connectRaw(amqp, contender)();
    const W = lib.warren();
    const root = warrenRoot(tag);
    let app;
    if (warrenServes) {
      const EchoServer = echoServer(lib, W, tag);
      app = await startWarren(lib, { providers: [EchoServer], imports: [W.RabbitMQModule.forRoot(root)] });
      call = await rawCaller(await connection.createChannel(), tag, encode, propertiesOf('raw+props', scenario, undefined));
    } else {
      await rawServer(await connection.createChannel(), tag, encode);
      app = await startWarren(lib, { imports: [W.RabbitMQModule.forRoot(root)] });
      const warren = app.get(W.AmqpConnection);
      call = (p) => warren.request({ exchange: tag, routingKey: tag, payload: p, timeout: 10000 });
    }
    close = async () => {
      await app.close();
      await connection.close();
    };
  } else if (contender.startsWith('raw')) {
    const { MessageIdSequence } = require(path.join(ROOT, 'libs/rabbitmq/dist/publisher/message-id'));
    const extra = propertiesOf(contender, scenario, new MessageIdSequence());
    const more = typeof extra === 'function' ? extra : () => extra;
    const connect = connectRaw(amqp, contender);
    const connection = await connect();
    if (publish) {
      await setup.assertQueue(tag, { durable: true });
      await setup.bindQueue(tag, tag, tag);
      const channel = await connection.createConfirmChannel();
      call = (p) =>
        new Promise((resolve, reject) =>
          channel.publish(tag, tag, encode(p), { persistent: true, contentType: 'application/json', ...more() }, (e) => (e ? reject(e) : resolve())),
        );
    } else {
      // raw+props/2: the server on a connection of its own, as the half-Warren contenders have it.
      const serverConnection = contender === 'raw+props/2' ? await connect() : connection;
      await rawServer(await serverConnection.createChannel(), tag, encode);
      call = await rawCaller(await connection.createChannel(), tag, encode, more);
      if (serverConnection !== connection) {
        close = async () => {
          await serverConnection.close();
          await connection.close();
        };
      }
    }
    close ??= () => connection.close();
  } else {
    const W = lib.warren();
    const root = warrenRoot(tag);
    if (publish) {
      await setup.assertQueue(tag, { durable: true });
      await setup.bindQueue(tag, tag, tag);
      const app = await startWarren(lib, { imports: [W.RabbitMQModule.forRoot(root)] });
      const connection = app.get(W.AmqpConnection);
      call = (p) => connection.publish(tag, tag, p, { persistent: true });
      close = () => app.close();
    } else {
      const EchoServer = echoServer(lib, W, tag);
      const app = await startWarren(lib, { providers: [EchoServer], imports: [W.RabbitMQModule.forRoot(root)] });
      const connection = app.get(W.AmqpConnection);
      call = (p) => connection.request({ exchange: tag, routingKey: tag, payload: p, timeout: 10000 });
      close = () => app.close();
    }
  }
  await runBounded(Math.ceil(count / 10), concurrency, (i) => call(payload(i)));
  global.gc();
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await runBounded(count, concurrency, (i) => call(payload(i)));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const used = process.cpuUsage(cpu0);
  await close();
  await setup.deleteQueue(tag);
  await setup.deleteExchange(tag);
  await admin.close();
  process.stdout.write(`RESULT ${JSON.stringify({ rate: count / seconds, cpu: (used.user + used.system) / count })}\n`);
}

if (process.argv[2] === '--trial') {
  trial(process.argv[3], process.argv[4]).then(
    () => process.exit(0),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
} else {
  main();
}
