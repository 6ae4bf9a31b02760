/** Unit specs live beside the code; end-to-end specs run against the broker at AMQP_URL. */
const common = {
  moduleFileExtensions: ['js', 'json', 'ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  moduleNameMapper: {
    '^@warren/rabbitmq$': '<rootDir>/libs/rabbitmq/src',
    '^@warren/rabbitmq/(.*)$': '<rootDir>/libs/rabbitmq/src/$1',
  },
  testEnvironment: 'node',
};

module.exports = {
  reporters: ['default', '<rootDir>/scripts/summary-reporter.js'],
  testTimeout: 60000,
  projects: [
    {
      ...common,
      displayName: 'unit',
      rootDir: __dirname,
      testMatch: ['<rootDir>/libs/**/*.spec.ts', '<rootDir>/apps/**/*.spec.ts', '<rootDir>/bench/**/*.spec.ts'],
    },
    { ...common, displayName: 'e2e', rootDir: __dirname, testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'], testTimeout: 60000 },
  ],
};
