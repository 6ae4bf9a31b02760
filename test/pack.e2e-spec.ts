import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { AMQP_URL, BrokerAdmin, uniqueName } from './support/broker';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '..');
const LIBRARY = join(ROOT, 'libs/rabbitmq');

/** The peers, at the versions the monorepo installed: the npm cache has those (a range could pick a newer one it lacks). */
const PEER_NAMES = ['@nestjs/common', '@nestjs/core', 'reflect-metadata', 'rxjs'];

async function installedSpec(name: string): Promise<string> {
  const { version } = JSON.parse(await readFile(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string };
  return `${name}@${version}`;
}

/**
 * A plain CommonJS consumer of the published package: no TypeScript, no path
 * mapping, decorators applied by hand. Exits 0 once its handler got the message
 * it published — and only exits at all if the library left nothing running.
 */
const SCRIPT = `'use strict';
require('reflect-metadata');
const { Injectable, Module } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { AmqpConnection, RabbitMQModule, RabbitSubscribe } = require('@warren/rabbitmq');

const queue = process.env.QUEUE;
let consumed;
const received = new Promise((resolve) => (consumed = resolve));

class Handler {
  onMessage(payload) {
    consumed(payload);
  }
}
const method = Object.getOwnPropertyDescriptor(Handler.prototype, 'onMessage');
Object.defineProperty(Handler.prototype, 'onMessage', Reflect.decorate([RabbitSubscribe({ queue })], Handler.prototype, 'onMessage', method) || method);
Reflect.decorate([Injectable()], Handler);

class AppModule {}
Reflect.decorate([Module({ imports: [RabbitMQModule.forRoot({ uri: process.env.AMQP_URL })], providers: [Handler] })], AppModule);

(async () => {
  const app = await NestFactory.createApplicationContext(AppModule, { logger: ['error', 'warn'] });
  await app.get(AmqpConnection).publish('', queue, { from: 'packed' });
  const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('message not consumed within 10 s')), 10000).unref());
  const payload = await Promise.race([received, timeout]);
  console.log('CONSUMED ' + JSON.stringify(payload));
  await app.close();
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
`;

describe('the packed library', () => {
  let work: string;
  let admin: BrokerAdmin;
  const queue = uniqueName('pack.q');

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'warren-pack-'));
    admin = await BrokerAdmin.connect();
    admin.track('queue', queue);
  });

  afterAll(async () => {
    await admin?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('installs into a plain Nest 11 app outside the monorepo and consumes a message', async () => {
    await run('npm', ['run', 'build'], { cwd: ROOT, timeout: 60_000 });
    const { stdout: packJson } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: LIBRARY, timeout: 30_000 });
    const [packed] = JSON.parse(packJson) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const files = packed.files.map((f) => f.path);
    expect(files).toEqual(expect.arrayContaining(['package.json', 'dist/index.js', 'dist/index.d.ts']));
    expect(files.filter((f) => f.startsWith('src/') || /\.spec\./.test(f))).toEqual([]);
    const tarball = join(work, packed.filename);

    const app = join(work, 'app');
    await mkdir(app);
    await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'warren-pack-check', version: '1.0.0', private: true }));
    // Prefer the cache (the monorepo installed all of it); what it lacks comes from the registry.
    const peers = await Promise.all(PEER_NAMES.map(installedSpec));
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', '--fetch-timeout=30000', tarball, ...peers], {
      cwd: app,
      timeout: 90_000,
    });
    await writeFile(join(app, 'check.js'), SCRIPT);

    const { stdout } = await run(process.execPath, ['check.js'], {
      cwd: app,
      timeout: 30_000,
      env: { ...process.env, AMQP_URL, QUEUE: queue, NODE_PATH: '' },
    });
    expect(stdout).toContain('CONSUMED {"from":"packed"}');
  }, 180_000);
});
