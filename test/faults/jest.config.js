/**
 * The fault-injection suite (npm run test:faults): a config of its own, so `npm test` and the
 * fault run are chosen independently. Specs run one at a time and in file-name order: they
 * stop brokers, kill nodes and close connections, and the last one scans what the others logged.
 */
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');

module.exports = {
  rootDir: root,
  displayName: 'faults',
  testMatch: ['<rootDir>/test/faults/**/*.fault-spec.ts'],
  moduleFileExtensions: ['js', 'json', 'ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json' }] },
  moduleNameMapper: {
    '^@warren/rabbitmq$': '<rootDir>/libs/rabbitmq/src',
    '^@warren/rabbitmq/(.*)$': '<rootDir>/libs/rabbitmq/src/$1',
  },
  testEnvironment: 'node',
  testTimeout: 120_000,
  maxWorkers: 1,
  // Bounded in CI even if a broken library build leaves a socket or timer behind; the specs
  // check for those explicitly where it matters (06, 07).
  forceExit: true,
  globalSetup: '<rootDir>/test/faults/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/faults/support/global-teardown.ts',
  testSequencer: '<rootDir>/test/faults/support/sequencer.js',
  reporters: ['default', '<rootDir>/test/faults/support/figures-reporter.js', '<rootDir>/scripts/summary-reporter.js'],
};
