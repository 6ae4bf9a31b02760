import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const SRC = join(__dirname, '..');

/** The source files (specs and the test contract excluded) of a folder under src/. */
function sources(folder: string): Array<{ file: string; text: string }> {
  return readdirSync(join(SRC, folder))
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.spec.ts') && !file.endsWith('.contract.ts'))
    .map((file) => ({ file: `${folder}/${file}`, text: readFileSync(join(SRC, folder, file), 'utf8') }));
}

function imports(text: string): string[] {
  return [...text.matchAll(/(?:from|import|require\()\s*['"]([^'"]+)['"]/g)].map((match) => match[1]);
}

describe('retry, dedup and redis module boundaries', () => {
  const files = [...sources('retry'), ...sources('dedup'), ...sources('redis')];

  it('stay pure: no amqplib, amqp-connection-manager or Nest', () => {
    for (const { file, text } of files) {
      for (const specifier of imports(text)) {
        expect({ file, specifier, forbidden: /^(amqplib|amqp-connection-manager|@nestjs\/)/.test(specifier) }).toEqual({
          file,
          specifier,
          forbidden: false,
        });
      }
    }
  });

  it('load ioredis at runtime only from redis-dedup.store.ts', () => {
    const loaders = files
      .filter(({ text }) => /^import\s+\{[^}]*\}\s+from\s+'ioredis'/m.test(text) || /require\(['"]ioredis['"]\)/.test(text))
      .map(({ file }) => file);
    expect(loaders).toEqual(['dedup/redis-dedup.store.ts']);
  });

  it('the dedup barrel works without ioredis installed; the redis entry point exports the store', () => {
    jest.isolateModules(() => {
      jest.doMock('ioredis', () => {
        throw new Error('ioredis must not be loaded by @warren/rabbitmq');
      });
      const dedup = require('./index') as Record<string, unknown>;
      expect(Object.keys(dedup).sort()).toEqual(
        ['DEFAULT_DEDUP_OPTIONS', 'MemoryDedupStore', 'messageIdDedupKey', 'resolveDedupOptions', 'validateDedupOptions'].sort(),
      );
      const retry = require('../retry') as Record<string, unknown>;
      expect(retry.RetryPolicy).toEqual(expect.any(Function));
    });
    jest.dontMock('ioredis');
    jest.isolateModules(() => {
      const redis = require('../redis') as Record<string, unknown>;
      expect(Object.keys(redis)).toEqual(['RedisDedupStore']);
    });
  });
});
