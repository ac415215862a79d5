import baseConfig from './playwright.config.ts'
import { defineConfig } from '@playwright/test'

/**
 * README screenshots, not tests (not part of `npm test`): real tabs and a real relay, as in the
 * specs. Run after `npm run build`: `npx playwright test -c e2e/screenshot.config.ts`.
 */
export default defineConfig({ ...baseConfig, testDir: 'screenshots', timeout: 180_000 })
