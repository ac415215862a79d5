import { fileURLToPath } from 'node:url'
import { defineConfig } from '@playwright/test'
import { findChromium } from '../scripts/ensure-chromium.ts'
import { CHROMIUM_ARGS, PLAYWRIGHT_DEFAULT_DISABLE_FEATURES_ARG } from './fixtures/browser-flags.ts'

const chromium = findChromium()
if (chromium === undefined) {
  throw new Error('Chromium not found: run "npx tsx scripts/ensure-chromium.ts" (or set CHROMIUM_PATH)')
}

export default defineConfig({
  testDir: 'specs',
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
    launchOptions: {
      executablePath: chromium,
      ignoreDefaultArgs: [PLAYWRIGHT_DEFAULT_DISABLE_FEATURES_ARG],
      args: CHROMIUM_ARGS
    }
  }
})
