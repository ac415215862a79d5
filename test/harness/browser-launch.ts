/**
 * How every browser run starts Chromium: Debian's binary (no Playwright download here) with the
 * flags of browser-flags.ts. e2e/playwright.config.ts passes chromiumLaunchOptions() to
 * Playwright Test; the soak and the benchmarks launch through launchBrowser().
 */
import { chromium } from 'playwright-core'
import { findChromium } from '../../scripts/ensure-chromium.ts'
import { CHROMIUM_ARGS, PLAYWRIGHT_DEFAULT_DISABLE_FEATURES_ARG } from './browser-flags.ts'
import type { Browser, BrowserContext, LaunchOptions } from 'playwright-core'

/** Headless Chromium with webkad's flags (Playwright's own --disable-features replaced by ours). */
export function chromiumLaunchOptions (): LaunchOptions & { executablePath: string } {
  const executablePath = findChromium()
  if (executablePath === undefined) {
    throw new Error('Chromium not found: run "npx tsx scripts/ensure-chromium.ts" (or set CHROMIUM_PATH)')
  }
  return {
    executablePath,
    headless: true,
    ignoreDefaultArgs: [PLAYWRIGHT_DEFAULT_DISABLE_FEATURES_ARG],
    args: CHROMIUM_ARGS
  }
}

/** A browser outside Playwright Test (soak, benchmarks), launched exactly as the e2e specs' one. */
export async function launchBrowser (): Promise<Browser> {
  return await chromium.launch(chromiumLaunchOptions())
}

/**
 * Lets the pages of `context` run functions compiled by tsx (`npm run soak`, `npm run bench`):
 * esbuild's keepNames wraps named inner functions in `__name(fn, "name")`, a helper that only
 * exists in Node. Playwright Test compiles specs without it, so the e2e specs need none.
 */
export async function allowTsxPageFunctions (context: BrowserContext): Promise<void> {
  await context.addInitScript({ content: 'globalThis.__name ??= (fn) => fn' })
}
