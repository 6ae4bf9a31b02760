import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '..');
const LIBRARY = join(ROOT, 'libs/rabbitmq');

/**
 * What a TypeScript consumer installs next to the library: its required peers and the
 * compiler, plus @types/node, which every Node application compiled with tsc has (the
 * declarations use Node's Buffer). No @types/amqplib and no optional peer: the library's
 * declarations must type-check with what its own dependencies provide. The versions are
 * the monorepo's, so the install is served from the npm cache.
 */
const CONSUMER_PACKAGES = ['@nestjs/common', '@nestjs/core', 'reflect-metadata', 'rxjs', 'typescript', '@types/node'];

/** Installed projects are kept here between runs, one per library tarball. */
const CACHE_PREFIX = 'warren-pack-types-';

const TEST_TIMEOUT_MS = 240_000;
const INSTALL_TIMEOUT_MS = 120_000;
const COMPILE_TIMEOUT_MS = 60_000;

/**
 * A consumer written against the published declarations. Each `@ts-expect-error` must
 * find its error: if `PublishOptions` or `ConsumeMessage` degraded to `any` (an amqplib
 * type the compiler cannot find), the directive would be unused and itself an error.
 */
const CONSUMER = `import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { AmqpConnection, RabbitSubscribe, type ConsumeMessage, type PublishOptions } from '@warren/rabbitmq';
import { createTestMessage } from '@warren/rabbitmq/testing';
import { DashboardTelemetry, WarrenDashboardModule, type DeadLetterPage } from '@warren/rabbitmq/dashboard';

export const dashboard = WarrenDashboardModule.forRoot({ path: '/ops/warren', readOnly: true, maskPaths: ['card.number'], telemetry: new DashboardTelemetry() });
// @ts-expect-error: maskPaths is a list of JSON paths, not one string
export const badMask = WarrenDashboardModule.forRoot({ maskPaths: 'card.number' });
export const shown = (page: DeadLetterPage): string[] => page.items.map((item) => item.reason.errorMessage);
import { Outbox, type OutboxTransaction } from '@warren/rabbitmq/outbox';

export const persistent: PublishOptions = { persistent: true, timeout: 5_000, headers: { source: 'consumer' } };

// @ts-expect-error: 'persistant' is not a publish option
export const misspelt: PublishOptions = { persistant: true };

@Injectable()
export class Audit {
  constructor(private readonly amqp: AmqpConnection) {}

  @RabbitSubscribe({ exchange: 'orders', routingKey: 'order.*', queue: 'audit.orders' })
  async onOrder(order: { id: string }, message: ConsumeMessage, headers: Record<string, unknown> | undefined): Promise<void> {
    const routingKey: string = message.fields.routingKey;
    const redelivered: boolean = message.fields.redelivered;
    const body: Buffer = message.content;
    // @ts-expect-error: a ConsumeMessage has no such property
    const missing = message.fields.notAField;
    await this.amqp.publish('audit', routingKey, { id: order.id, redelivered, size: body.length, headers, missing }, persistent);
  }
}

// The outbox entry point type-checks without pg or typeorm installed (optional peers).
export async function recordOrder(outbox: Outbox, tx: OutboxTransaction): Promise<string> {
  const entry = await outbox.publish(tx, 'orders', 'order.created', { id: 'o-1' }, { aggregateKey: 'o-1' });
  // @ts-expect-error: an aggregate key is a string
  await outbox.publish(tx, 'orders', 'order.created', {}, { aggregateKey: 1 });
  return entry.messageId;
}

const sample: ConsumeMessage = createTestMessage({ payload: { id: 'o-1' }, routingKey: 'order.created' });
// @ts-expect-error: a ConsumeMessage's routing key is a string, not a number
export const wrong: number = sample.fields.routingKey;
`;

/** A plain Nest application's compiler options, made strict, with every declaration file checked. */
const COMPILER_OPTIONS = {
  strict: true,
  skipLibCheck: false,
  noEmit: true,
  target: 'ES2022',
  lib: ['ES2022'],
  experimentalDecorators: true,
  emitDecoratorMetadata: true,
  types: ['node'],
};

/** The two ways a consumer resolves the package: Nest CLI's default (`main`, `typesVersions`) and Node 16+ (`exports`). */
const RESOLUTIONS = [
  { name: 'node10', options: { module: 'commonjs', moduleResolution: 'node' } },
  { name: 'node16', options: { module: 'node16', moduleResolution: 'node16' } },
] as const;

/** The last lines of a failed child process's output, for the error message. */
function tail(error: unknown, lines = 15): string {
  const e = error as { stdout?: string; stderr?: string; message?: string; killed?: boolean; signal?: string };
  const output = `${e.stderr ?? ''}\n${e.stdout ?? ''}`.trim() || e.message || String(error);
  const last = output.split('\n').slice(-lines).join('\n');
  return e.killed ? `killed (${e.signal ?? 'timeout'}) after its deadline\n${last}` : last;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** `name@version` as installed in the monorepo (read from disk: not every package exports its package.json). */
async function installedSpec(name: string): Promise<string> {
  const { version } = JSON.parse(await readFile(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string };
  return `${name}@${version}`;
}

interface Packed {
  tarball: string;
  hash: string;
  files: Array<{ path: string; size: number }>;
}

/**
 * Builds the library into a staging directory (not libs/rabbitmq/dist, which other
 * tests build and pack concurrently), with the package's own files, and packs it.
 */
async function packLibrary(work: string): Promise<Packed> {
  const stage = join(work, 'stage');
  await mkdir(stage);
  await run('npm', ['run', 'build', '--silent', '--', '--outDir', join(stage, 'dist')], { cwd: ROOT, timeout: 90_000 });
  for (const file of ['package.json', 'README.md', 'LICENSE', 'migrations/outbox.sql']) {
    if (!(await exists(join(LIBRARY, file)))) continue;
    await mkdir(dirname(join(stage, file)), { recursive: true });
    await copyFile(join(LIBRARY, file), join(stage, file));
  }
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: stage, timeout: 30_000 });
  const [packed] = JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string; size: number }> }>;
  const tarball = join(work, packed.filename);
  const hash = createHash('sha256')
    .update(await readFile(tarball))
    .digest('hex')
    .slice(0, 16);
  return { tarball, hash, files: packed.files };
}

/**
 * A project outside the repository with the packed library and CONSUMER_PACKAGES
 * installed, reused while the tarball is unchanged. Installed in a scratch directory and
 * renamed into place, so a concurrent run never sees a half-installed project.
 */
async function installConsumer(tarball: string, hash: string): Promise<string> {
  const dir = join(tmpdir(), `${CACHE_PREFIX}${hash}`);
  if (await exists(join(dir, '.installed'))) return dir;

  const packages = await Promise.all(CONSUMER_PACKAGES.map(installedSpec));
  const scratch = `${dir}.tmp-${process.pid}-${randomBytes(3).toString('hex')}`;
  await mkdir(scratch, { recursive: true });
  try {
    await copyFile(tarball, join(scratch, 'warren-rabbitmq.tgz'));
    await writeFile(join(scratch, 'package.json'), JSON.stringify({ name: 'warren-pack-types-check', version: '1.0.0', private: true }, null, 2));
    try {
      await run(
        'npm',
        [
          'install',
          '--prefer-offline',
          '--no-audit',
          '--no-fund',
          '--loglevel=error',
          '--fetch-timeout=30000',
          '--fetch-retries=1',
          ...packages,
          './warren-rabbitmq.tgz',
        ],
        { cwd: scratch, timeout: INSTALL_TIMEOUT_MS, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 },
      );
    } catch (error) {
      throw new Error(`npm could not install ${packages.join(' ')} and the library (deadline ${INSTALL_TIMEOUT_MS / 1000} s):\n${tail(error)}`, {
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
  await removeStaleProjects(dir);
  return dir;
}

/** Projects installed for earlier versions of the library, untouched for an hour. */
async function removeStaleProjects(keep: string): Promise<void> {
  const hourAgo = Date.now() - 3_600_000;
  for (const name of await readdir(tmpdir()).catch(() => [] as string[])) {
    const path = join(tmpdir(), name);
    if (!name.startsWith(CACHE_PREFIX) || path === keep) continue;
    const info = await stat(path).catch(() => undefined);
    if (info && info.mtimeMs < hourAgo) await rm(path, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** Type-checks CONSUMER in `project` with one resolution mode; resolves to tsc's diagnostics, '' when clean. */
async function compile(project: string, resolution: (typeof RESOLUTIONS)[number]): Promise<string> {
  const dir = join(project, `consumer-${resolution.name}-${process.pid}-${randomBytes(3).toString('hex')}`);
  await mkdir(dir);
  try {
    await writeFile(join(dir, 'consumer.ts'), CONSUMER);
    await writeFile(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { ...COMPILER_OPTIONS, ...resolution.options }, files: ['consumer.ts'] }, null, 2),
    );
    const tsc = join(project, 'node_modules', 'typescript', 'bin', 'tsc');
    try {
      await run(process.execPath, [tsc, '-p', dir, '--pretty', 'false'], {
        cwd: dir,
        timeout: COMPILE_TIMEOUT_MS,
        killSignal: 'SIGKILL',
        maxBuffer: 16 * 1024 * 1024,
      });
      return '';
    } catch (error) {
      const e = error as { stdout?: string; killed?: boolean };
      if (e.killed || !e.stdout) throw new Error(`tsc did not finish (${resolution.name}):\n${tail(error)}`, { cause: error });
      return e.stdout
        .split(project + '/')
        .join('')
        .trim();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('the packed library, for a strict TypeScript consumer', () => {
  let work: string;
  let packed: Packed;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'warren-pack-types-work-'));
  });

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it(
    'ships its README, LICENSE, code and declarations, and nothing else',
    async () => {
      packed = await packLibrary(work);
      const paths = packed.files.map((f) => f.path);
      expect(paths).toEqual(expect.arrayContaining(['package.json', 'README.md', 'LICENSE', 'dist/index.js', 'dist/index.d.ts']));
      expect(paths.filter((path) => !/^(package\.json|README\.md|LICENSE|dist\/.+\.(js|d\.ts)|migrations\/[\w-]+\.sql)$/.test(path))).toEqual([]);

      // Every entry point's code and declarations are in the tarball.
      const { exports } = JSON.parse(await readFile(join(LIBRARY, 'package.json'), 'utf8')) as {
        exports: Record<string, string | { types: string; default: string }>;
      };
      const missing = Object.values(exports)
        .flatMap((target) => (typeof target === 'string' ? [target] : [target.types, target.default]))
        .map((target) => target.replace(/^\.\//, ''))
        .filter((target) => !paths.includes(target));
      expect(missing).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'type-checks PublishOptions, ConsumeMessage, a @RabbitSubscribe handler and the outbox with strict, skipLibCheck off',
    async () => {
      packed ??= await packLibrary(work);
      const project = await installConsumer(packed.tarball, packed.hash);
      const results: string[] = [];
      for (const resolution of RESOLUTIONS) results.push(`${resolution.name}: ${(await compile(project, resolution)) || 'no errors'}`);
      // On failure the message is tsc's own output, so the broken declaration is named.
      expect(results.join('\n')).toBe(RESOLUTIONS.map((resolution) => `${resolution.name}: no errors`).join('\n'));
    },
    TEST_TIMEOUT_MS,
  );
});
