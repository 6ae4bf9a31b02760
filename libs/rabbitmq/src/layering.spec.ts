import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

/**
 * The layers of src/, bottom first. A file may import from its own folder and from lower
 * layers; from its own layer only along the edges listed in SAME_LAYER; never from above.
 * Specs and test contracts are left out: they may build whatever they test against.
 */
const LAYERS: ReadonlyArray<{ layer: number; name: string; folders: string[] }> = [
  { layer: 0, name: 'foundation', folders: ['errors', 'message', 'options'] },
  { layer: 1, name: 'connection', folders: ['connection'] },
  { layer: 2, name: 'transport', folders: ['topology', 'publisher', 'rpc'] },
  { layer: 3, name: 'consumer', folders: ['consumer'] },
  { layer: 4, name: 'features', folders: ['retry', 'dedup', 'dead-letter', 'reliability', 'observability', 'stream'] },
  { layer: 5, name: 'facade', folders: ['facade'] },
  // `(root)`: rabbitmq.module.ts, rabbitmq-core.module.ts, the lifecycle service, tokens, features.ts.
  { layer: 6, name: 'module', folders: ['(root)', 'decorators', 'discovery'] },
  { layer: 7, name: 'entry points', folders: ['redis', 'terminus', 'prometheus', 'opentelemetry', 'microservices', 'testing', 'dashboard', 'outbox'] },
  // The public barrel: nothing inside src/ imports it.
  { layer: 8, name: 'public API', folders: ['index.ts'] },
];

/** The imports allowed between two folders of the same layer, with the reason. */
const SAME_LAYER: ReadonlyArray<{ from: string; to: string; why: string }> = [
  { from: 'message', to: 'errors', why: 'header values describe errors (errorText, describeError)' },
  { from: 'options', to: 'errors', why: 'resolveOptions reports problems as InvalidOptionsError' },
  { from: 'options', to: 'message', why: 'the serializer option and its default, JsonSerializer' },
  { from: 'rpc', to: 'publisher', why: 'a request is checked for encoding problems the way a publish is' },
  { from: 'reliability', to: 'retry', why: 'reliability/ wires the pure retry policy into the consumer' },
  { from: 'reliability', to: 'dedup', why: 'reliability/ wires the pure dedup stores into the consumer' },
  { from: '(root)', to: 'discovery', why: 'the module and its lifecycle run the handler explorer' },
  { from: 'discovery', to: 'decorators', why: 'discovery reads the metadata the decorators write' },
];

const SRC = __dirname;

/** The folder a source file belongs to: its first path segment, `(root)` for files in src/ itself, `index.ts` for the barrel. */
function folderOf(file: string): string {
  const parts = relative(SRC, file).split(sep);
  if (parts.length > 1) return parts[0];
  return parts[0] === 'index.ts' ? 'index.ts' : '(root)';
}

function layerOf(folder: string): number | undefined {
  return LAYERS.find((entry) => entry.folders.includes(folder))?.layer;
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

/** Every library source file: specs and test contracts excluded. */
const FILES = walk(SRC).filter((file) => file.endsWith('.ts') && !file.endsWith('.spec.ts') && !file.endsWith('.contract.ts'));

function specifiers(text: string): string[] {
  return [...text.matchAll(/\b(?:from|import|require\(|import\()\s*['"]([^'"]+)['"]/g)].map((match) => match[1]);
}

/** The file a relative specifier points to, or undefined for a package. */
function target(file: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const path = resolve(dirname(file), specifier);
  for (const candidate of [`${path}.ts`, join(path, 'index.ts'), path]) if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  throw new Error(`${relative(SRC, file)}: cannot resolve '${specifier}'`);
}

/** What `file` imports: its relative imports as files, and the packages it names. */
function importsOf(file: string): { files: string[]; packages: string[] } {
  const found = specifiers(readFileSync(file, 'utf8'));
  return {
    files: found.map((specifier) => target(file, specifier)).filter((path): path is string => path !== undefined),
    packages: found.filter((specifier) => !specifier.startsWith('.')),
  };
}

/** Why importing `imported` from `file` breaks the layering, or undefined when it does not. */
function violation(file: string, imported: string): string | undefined {
  const from = folderOf(file);
  const to = folderOf(imported);
  if (to === from) return undefined;
  const fromLayer = layerOf(from)!;
  const toLayer = layerOf(to)!;
  if (toLayer > fromLayer) return `upward: ${from} is layer ${fromLayer}, ${to} is layer ${toLayer}`;
  if (toLayer === fromLayer && !SAME_LAYER.some((allowed) => allowed.from === from && allowed.to === to)) {
    return `same layer ${fromLayer}: ${from} -> ${to} is not in SAME_LAYER`;
  }
  return undefined;
}

/** Every import of `files` that breaks the layering, as `file -> imported file (why)`. */
function layeringViolations(files: string[]): string[] {
  return files.flatMap((file) =>
    importsOf(file).files.flatMap((imported) => {
      const why = violation(file, imported);
      return why === undefined ? [] : [`${relative(SRC, file)} -> ${relative(SRC, imported)} (${why})`];
    }),
  );
}

/** `files` and every library file they import, directly or not. */
function closure(files: string[]): string[] {
  const seen = new Set<string>();
  const pending = [...files];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    pending.push(...importsOf(file).files);
  }
  return [...seen];
}

const inFolders = (...folders: string[]): string[] => FILES.filter((file) => folders.includes(folderOf(file)));

describe('layering of src/', () => {
  it('assigns every folder a layer', () => {
    const unassigned = [...new Set(FILES.map(folderOf))].filter((folder) => layerOf(folder) === undefined);
    expect(unassigned).toEqual([]);
  });

  it('allows same-layer imports only between folders of one layer', () => {
    const wrong = SAME_LAYER.filter(({ from, to }) => layerOf(from) === undefined || layerOf(from) !== layerOf(to));
    expect(wrong).toEqual([]);
  });

  it('has no import that points to a higher layer, or across its own layer unless listed', () => {
    expect(layeringViolations(FILES)).toEqual([]);
  });

  it('tells an upward import, an unlisted same-layer import and a downward one apart', () => {
    const at = (path: string): string => join(SRC, ...path.split('/'));
    expect(violation(at('consumer/queue-consumer.ts'), at('facade/amqp-connection.ts'))).toBe('upward: consumer is layer 3, facade is layer 5');
    expect(violation(at('connection/managed-channel.ts'), at('index.ts'))).toBe('upward: connection is layer 1, index.ts is layer 8');
    expect(violation(at('errors/warren.error.ts'), at('options/resolve-options.ts'))).toBe('same layer 0: errors -> options is not in SAME_LAYER');
    expect(violation(at('options/resolve-options.ts'), at('errors/invalid-options.error.ts'))).toBeUndefined();
    expect(violation(at('facade/amqp-connection.ts'), at('consumer/consumer-registry.ts'))).toBeUndefined();
    expect(violation(at('rabbitmq.module.ts'), at('features.ts'))).toBeUndefined();
  });
});

describe('retry, dedup and redis module boundaries', () => {
  const files = inFolders('retry', 'dedup', 'redis');

  it('stay pure: neither they nor anything they import loads amqplib, amqp-connection-manager or Nest', () => {
    const forbidden = closure(files).flatMap((file) =>
      importsOf(file)
        .packages.filter((specifier) => /^(amqplib|amqp-connection-manager|@nestjs\/)/.test(specifier))
        .map((specifier) => `${relative(SRC, file)} imports ${specifier}`),
    );
    expect(forbidden).toEqual([]);
  });

  it('load ioredis at runtime only from the Redis stores', () => {
    const loaders = closure(files)
      .filter((file) => {
        const text = readFileSync(file, 'utf8');
        return /^import\s+\{[^}]*\}\s+from\s+'ioredis'/m.test(text) || /require\(['"]ioredis['"]\)/.test(text);
      })
      .map((file) => relative(SRC, file).split(sep).join('/'));
    expect(loaders.sort()).toEqual(['dedup/redis-dedup.store.ts', 'stream/redis-offset.store.ts']);
  });

  it('the dedup barrel works without ioredis installed; the redis entry point exports the stores', () => {
    jest.isolateModules(() => {
      jest.doMock('ioredis', () => {
        throw new Error('ioredis must not be loaded by @warren/rabbitmq');
      });
      const dedup = require('./dedup') as Record<string, unknown>;
      expect(Object.keys(dedup).sort()).toEqual(
        ['DEFAULT_DEDUP_OPTIONS', 'MemoryDedupStore', 'messageIdDedupKey', 'resolveDedupOptions', 'validateDedupOptions'].sort(),
      );
      const retry = require('./retry') as Record<string, unknown>;
      expect(retry.RetryPolicy).toEqual(expect.any(Function));
    });
    jest.dontMock('ioredis');
    jest.isolateModules(() => {
      const redis = require('./redis') as Record<string, unknown>;
      expect(Object.keys(redis).sort()).toEqual(['RedisDedupStore', 'RedisStreamOffsetStore']);
    });
  });
});
