import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { AMQP_URL, BrokerAdmin, uniqueName } from '../support/broker';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '../..');
const LIBRARY = join(ROOT, 'libs/rabbitmq');

/** Nest 12 and the peers it needs, from the npm registry (the monorepo itself is on Nest 11). */
const NEST12 = ['@nestjs/core@12', '@nestjs/common@12', 'reflect-metadata', 'rxjs'];

/** Installed apps are kept here between runs, one per library tarball. */
const CACHE_PREFIX = 'warren-nest12-';

/** The whole test; each step below has its own, smaller deadline. */
const TEST_TIMEOUT_MS = 180_000;
const INSTALL_TIMEOUT_MS = 120_000;
const SMOKE_TIMEOUT_MS = 45_000;

/**
 * A Nest 12 application written as an ES module (`"type": "module"`, plain JavaScript:
 * decorators applied with Reflect.decorate). It imports the CommonJS library, which in
 * turn require()s Nest 12's ES modules (Node >= 20.19). It boots an application context,
 * publishes an event to its own @RabbitSubscribe handler, makes one request to its own
 * @RabbitRPC handler, closes, and exits by itself — only possible if nothing was left running.
 */
const SMOKE_SCRIPT = `import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AmqpConnection, RabbitMQModule, RabbitRPC, RabbitSubscribe } from '@warren/rabbitmq';

const require = createRequire(import.meta.url);
const manifest = (name) => JSON.parse(readFileSync(require.resolve(name + '/package.json'), 'utf8'));
for (const name of ['@nestjs/core', '@nestjs/common']) {
  const { version, type } = manifest(name);
  console.log('PACKAGE ' + name + ' ' + version + ' ' + (type ?? 'commonjs'));
}

const { AMQP_URL, EXCHANGE, EVENT_QUEUE, RPC_QUEUE } = process.env;
const transient = { durable: false, autoDelete: true };

let consumed;
const received = new Promise((resolve) => (consumed = resolve));

class Handlers {
  onEvent(payload) {
    consumed(payload);
  }

  double(request) {
    return { doubled: request.n * 2 };
  }
}
function decorateMethod(target, name, decorators) {
  const descriptor = Object.getOwnPropertyDescriptor(target, name);
  Object.defineProperty(target, name, Reflect.decorate(decorators, target, name, descriptor) || descriptor);
}
decorateMethod(Handlers.prototype, 'onEvent', [
  RabbitSubscribe({ exchange: EXCHANGE, routingKey: 'smoke.event', queue: EVENT_QUEUE, queueOptions: transient }),
]);
decorateMethod(Handlers.prototype, 'double', [
  RabbitRPC({ exchange: EXCHANGE, routingKey: 'smoke.double', queue: RPC_QUEUE, queueOptions: transient }),
]);
Reflect.decorate([Injectable()], Handlers);

class AppModule {}
Reflect.decorate(
  [
    Module({
      imports: [
        RabbitMQModule.forRoot({
          uri: AMQP_URL,
          exchanges: [{ name: EXCHANGE, type: 'topic', options: transient }],
        }),
      ],
      providers: [Handlers],
    }),
  ],
  AppModule,
);

const app = await NestFactory.createApplicationContext(AppModule, { logger: ['error', 'warn'] });
const amqp = app.get(AmqpConnection);
await amqp.publish(EXCHANGE, 'smoke.event', { from: 'nest12' });
const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('event not consumed within 10 s')), 10_000).unref());
console.log('CONSUMED ' + JSON.stringify(await Promise.race([received, timeout])));
const reply = await amqp.request({ exchange: EXCHANGE, routingKey: 'smoke.double', payload: { n: 21 }, timeout: 10_000 });
console.log('RPC ' + JSON.stringify(reply));
await app.close();
console.log('CLOSED');
`;

/** The last lines of a failed child process's output, for the error message. */
function tail(error: unknown): string {
  const e = error as { stdout?: string; stderr?: string; message?: string; killed?: boolean; signal?: string };
  const output = `${e.stderr ?? ''}\n${e.stdout ?? ''}`.trim() || e.message || String(error);
  const lines = output.split('\n').slice(-15).join('\n');
  return e.killed ? `killed (${e.signal ?? 'timeout'}) after its deadline\n${lines}` : lines;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * Builds the library into a staging directory (not libs/rabbitmq/dist, which other
 * tests build and pack concurrently) and packs it. Returns the tarball and its hash.
 */
async function packLibrary(work: string): Promise<{ tarball: string; hash: string }> {
  const stage = join(work, 'stage');
  await mkdir(stage);
  await run('npm', ['run', 'build', '--silent', '--', '--outDir', join(stage, 'dist')], { cwd: ROOT, timeout: 60_000 });
  await copyFile(join(LIBRARY, 'package.json'), join(stage, 'package.json'));
  if (await exists(join(LIBRARY, 'README.md'))) await copyFile(join(LIBRARY, 'README.md'), join(stage, 'README.md'));
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: stage, timeout: 30_000 });
  const [packed] = JSON.parse(stdout) as Array<{ filename: string }>;
  const tarball = join(work, packed.filename);
  const hash = createHash('sha256')
    .update(await readFile(tarball))
    .digest('hex')
    .slice(0, 16);
  return { tarball, hash };
}

/**
 * An ESM app directory outside the repository with Nest 12 and the packed library
 * installed, reused while the tarball is unchanged. Installed in a scratch directory and
 * renamed into place, so a concurrent run never sees a half-installed app.
 */
async function installApp(tarball: string, hash: string): Promise<{ dir: string; cached: boolean }> {
  const dir = join(tmpdir(), `${CACHE_PREFIX}${hash}`);
  if (await exists(join(dir, '.installed'))) return { dir, cached: true };

  await checkRegistry();
  const scratch = `${dir}.tmp-${process.pid}-${randomBytes(3).toString('hex')}`;
  await mkdir(scratch, { recursive: true });
  try {
    await copyFile(tarball, join(scratch, 'warren-rabbitmq.tgz'));
    await writeFile(join(scratch, 'package.json'), JSON.stringify({ name: 'warren-nest12-check', version: '1.0.0', private: true, type: 'module' }, null, 2));
    try {
      await run(
        'npm',
        ['install', '--no-audit', '--no-fund', '--loglevel=error', '--fetch-timeout=30000', '--fetch-retries=1', ...NEST12, './warren-rabbitmq.tgz'],
        { cwd: scratch, timeout: INSTALL_TIMEOUT_MS, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 },
      );
    } catch (error) {
      throw new Error(`npm could not install ${NEST12.join(' ')} and the library (deadline ${INSTALL_TIMEOUT_MS / 1000} s):\n${tail(error)}`, {
        cause: error,
      });
    }
    await writeFile(join(scratch, '.installed'), new Date().toISOString());
    try {
      await rename(scratch, dir);
    } catch (error) {
      // Another run installed the same tarball first: use theirs.
      if (!(await exists(join(dir, '.installed')))) throw error;
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  await removeStaleApps(dir);
  return { dir, cached: false };
}

/** Fails at once, saying so, when the npm registry cannot be reached: the test installs Nest 12 from it. */
async function checkRegistry(): Promise<void> {
  const { stdout } = await run('npm', ['config', 'get', 'registry'], { timeout: 15_000 }).catch(() => ({ stdout: 'the npm registry' }));
  const registry = stdout.trim();
  try {
    await run('npm', ['ping', '--fetch-timeout=15000', '--fetch-retries=1'], { timeout: 40_000, killSignal: 'SIGKILL' });
  } catch (error) {
    throw new Error(
      `The npm registry (${registry}) is not reachable; this test installs Nest 12 from it. ` +
        `Check the network, a proxy ('npm config get proxy') or the 'registry' setting.\n${tail(error)}`,
      { cause: error },
    );
  }
}

/** Apps installed for earlier versions of the library, untouched for an hour. */
async function removeStaleApps(keep: string): Promise<void> {
  const hourAgo = Date.now() - 3_600_000;
  for (const name of await readdir(tmpdir()).catch(() => [] as string[])) {
    const path = join(tmpdir(), name);
    if (!name.startsWith(CACHE_PREFIX) || path === keep) continue;
    const info = await stat(path).catch(() => undefined);
    if (info && info.mtimeMs < hourAgo) await rm(path, { recursive: true, force: true }).catch(() => undefined);
  }
}

describe('Nest 12 (ES modules) compatibility', () => {
  let work: string;
  let admin: BrokerAdmin;
  const exchange = uniqueName('nest12.x');
  const eventQueue = uniqueName('nest12.events');
  const rpcQueue = uniqueName('nest12.rpc');

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'warren-compat-pack-'));
    admin = await BrokerAdmin.connect();
    admin.track('queue', eventQueue, rpcQueue);
    admin.track('exchange', exchange);
  });

  afterAll(async () => {
    await admin?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it(
    'the packed library publishes, consumes and answers an RPC in a Nest 12 ESM application',
    async () => {
      const { tarball, hash } = await packLibrary(work);
      const { dir } = await installApp(tarball, hash);
      await writeFile(join(dir, 'smoke.js'), SMOKE_SCRIPT);

      let stdout: string;
      try {
        ({ stdout } = await run(process.execPath, ['smoke.js'], {
          cwd: dir,
          timeout: SMOKE_TIMEOUT_MS,
          killSignal: 'SIGKILL',
          env: { ...process.env, AMQP_URL, EXCHANGE: exchange, EVENT_QUEUE: eventQueue, RPC_QUEUE: rpcQueue, NODE_PATH: '' },
        }));
      } catch (error) {
        throw new Error(`The Nest 12 smoke app failed:\n${tail(error)}`, { cause: error });
      }

      // It really ran on Nest 12, shipped as ES modules.
      expect(stdout).toMatch(/^PACKAGE @nestjs\/core 12\.\S+ module$/m);
      expect(stdout).toMatch(/^PACKAGE @nestjs\/common 12\.\S+ module$/m);
      expect(stdout).toContain('CONSUMED {"from":"nest12"}');
      expect(stdout).toContain('RPC {"doubled":42}');
      expect(stdout).toContain('CLOSED');
    },
    TEST_TIMEOUT_MS,
  );
});
