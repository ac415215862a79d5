import { fileURLToPath } from 'node:url'
import { defineConfig } from '@playwright/test'
import { chromiumLaunchOptions } from '../test/harness/browser-launch.ts'

export default defineConfig({
  // Only e2e/specs/*.spec.ts: the shared harness (test/harness/) and the Vitest tests are outside it.
  testDir: 'specs',
  testMatch: '**/*.spec.ts',
  outputDir: fileURLToPath(new URL('../test-results/e2e', import.meta.url)),
  workers: 1,
  fullyParallel: false,
  retries: 0,
  timeout: 90_000,
  expect: { timeout: 10_000 },
  forbidOnly: true,
  reporter: 'list',
  use: {
    browserName: 'chromium',
    headless: true,
    trace: 'retain-on-failure',
    launchOptions: chromiumLaunchOptions()
  }
})
