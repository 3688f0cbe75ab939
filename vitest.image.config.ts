// `npm run test:image`: the container image test, apart from `npm test` because it builds the
// image (minutes on a cold cache); .ci/run runs it after the suite.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/image/**/*.test-image.ts'],
    pool: 'forks',
    testTimeout: 180_000,
    hookTimeout: 1_200_000,
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
