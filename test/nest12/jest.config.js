/**
 * The unit and e2e suites against NestJS 12 (scripts/test-nest12.sh installs it in a copy of
 * the repository). Nest 12 ships ES modules only and Jest on Node 20 loads CommonJS, so its
 * files (and the ESM-only packages they use) are turned into CommonJS on the way in. Types are
 * checked by `tsc` against Nest 11 in the main run, and the library's against Nest 12 by the
 * script; here only behaviour is tested.
 */
const path = require('node:path');
const base = require('../../jest.config.js');

const root = path.resolve(__dirname, '../..');
const core = require(require.resolve('@nestjs/core/package.json', { paths: [root] }));
if (!core.version.startsWith('12.')) {
  throw new Error(`test/nest12/jest.config.js runs against NestJS 12, but @nestjs/core ${core.version} is installed (see scripts/test-nest12.sh)`);
}

const ESM_ONLY = ['@nestjs', 'path-to-regexp', 'load-esm', 'file-type', 'uid', 'strtok3', 'token-types', '@tokenizer', 'uint8array-extras'];

module.exports = {
  ...base,
  rootDir: root,
  projects: base.projects.map((project) => ({
    ...project,
    rootDir: root,
    transform: {
      '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json', isolatedModules: true }],
      '^.+\\.m?js$': '<rootDir>/test/nest12/esm-to-cjs.transformer.js',
    },
    // Judged by the innermost node_modules of a path, so an ESM-only package nested under another
    // (@fastify/middie's own path-to-regexp 9) is turned into CommonJS too.
    transformIgnorePatterns: [`/node_modules/(?!(?:${ESM_ONLY.join('|')})/)(?!.*/node_modules/)`],
    // A CommonJS TypeScript consumer cannot import Nest 12's ES modules under node16 resolution:
    // the strict-consumer check of the packed types is for the CommonJS Nest 11 world; the Nest 12
    // smoke test (test/compat/nest12) covers an ES module consumer.
    testPathIgnorePatterns: ['/node_modules/', '/test/pack-types\\.e2e-spec\\.ts$'],
  })),
};
