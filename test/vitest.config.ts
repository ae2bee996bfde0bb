import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  // One copy of graphql, or "Cannot use GraphQLSchema from another module or realm":
  // Node loads graphql's CJS entry for Pothos and yoga, so the tests must too.
  resolve: {
    dedupe: ['graphql'],
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    root: new URL('..', import.meta.url).pathname,
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    fileParallelism: true,
    maxWorkers: 2,
    // Gateways the tests start as processes run one worker (the default is one per core) unless a test sets it.
    env: { WORKERS: '1' },
  },
});
