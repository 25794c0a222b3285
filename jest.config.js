/**
 * Five projects: `unit` (pure code, next to it), `integration` (a lib against the real Postgres),
 * `e2e` and `chaos` (real processes, Postgres, Redis), `browser` (the dashboard in headless
 * Chromium against a real coordinator).
 */
const shared = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  moduleNameMapper: {
    '^#(contracts|protocol|store|participant|testing|client)$': '<rootDir>/libs/$1/src/index.ts',
    // loads NestJS (ESM-only): a test that imports it fails; here so the mapping is the same as package.json's
    '^#participant/nest$': '<rootDir>/libs/participant/src/nest/index.ts',
  },
  moduleFileExtensions: ['ts', 'js', 'json'],
};
module.exports = {
  projects: [
    { ...shared, displayName: 'unit', testMatch: ['<rootDir>/{apps,libs}/**/*.spec.ts'] },
    { ...shared, displayName: 'integration', testMatch: ['<rootDir>/{apps,libs}/**/*.int-spec.ts'] },
    { ...shared, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.e2e-spec.ts'], slowTestThreshold: 30 },
    { ...shared, displayName: 'chaos', testMatch: ['<rootDir>/test/chaos/**/*.chaos-spec.ts'], slowTestThreshold: 60 },
    {
      ...shared,
      displayName: 'browser',
      testMatch: ['<rootDir>/test/browser/**/*.browser-spec.ts'],
      slowTestThreshold: 60,
    },
  ],
  testTimeout: 60_000,
  // e2e and chaos files each run their own coordinator processes; two at a time fit 2 cores
  maxWorkers: 2,
  reporters: ['default', '<rootDir>/test/summary-reporter.js'],
};
