/**
 * What the browser benchmarks share beyond test/harness/ (Chromium with webkad's flags, the real
 * relay as a child process serving dist/): a world of one relay and one browser context, and
 * webkad tabs driven through `window.webkad`.
 */
import { allowTsxPageFunctions, launchBrowser } from '../../test/harness/browser-launch.ts'
import { watchPageErrors } from '../../test/harness/page-errors.ts'
import { startRelayProcess } from '../../test/harness/relay-process.ts'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import type { RelayProcess, RelayProcessOptions } from '../../test/harness/relay-process.ts'
import type { BenchOptions } from './types.ts'

/** Options of a browser benchmark: it launches its own Chromium unless given one. */
export interface BrowserBenchOptions extends BenchOptions {
  browser?: Browser
}

/** A browser context whose pages can run the benchmarks' page functions (compiled by tsx). */
export async function newBenchContext (browser: Browser): Promise<BrowserContext> {
  const context = await browser.newContext()
  await allowTsxPageFunctions(context)
  return context
}

/** One benchmark's world: a fresh relay and a fresh browser context; `close()` tears both down. */
export interface BenchWorld {
  relay: RelayProcess
  browser: Browser
  context: BrowserContext
  /** Errors that escaped a page (pageerror, crashes), for the section's notes. */
  pageErrors: string[]
  /** Opens a webkad tab; `query` is appended to the app URL (e.g. `scheduler=off`). */
  openTab(options?: OpenTabOptions): Promise<BenchTab>
  close(): Promise<void>
}

export interface OpenTabOptions {
  query?: string
  /** Connect to the relay after loading (through `session.connect`). @default true */
  connect?: boolean
}

/** A loaded webkad tab. */
export interface BenchTab {
  page: Page
  label: string
  peerId: string
}

export interface WorldOptions {
  /** Chromium to open the context in; launched (and closed with the world) when not given. */
  browser?: Browser
  /** Extra relay/main.ts flags, e.g. `['--dht-streams', 'fresh']` (appended to the relay's argv). */
  relayArgs?: string[]
  /** Run the compiled relay (dist-relay/, what `npm start` runs) rather than relay/main.ts through tsx. */
  compiledRelay?: boolean
  /** Query appended to every tab's URL in this world (e.g. `dhtStreams=fresh`), before `OpenTabOptions.query`. */
  tabQuery?: string
}

export async function openWorld (options: WorldOptions = {}): Promise<BenchWorld> {
  const ownBrowser = options.browser == null
  const browser = options.browser ?? await launchBrowser()
  let relay: RelayProcess
  try {
    const relayOptions: RelayProcessOptions = {
      ...(options.relayArgs != null ? { args: options.relayArgs } : {}),
      ...(options.compiledRelay === true ? { compiled: true } : {})
    }
    relay = await startRelayProcess(relayOptions)
  } catch (err) {
    if (ownBrowser) await browser.close()
    throw err
  }
  const context = await newBenchContext(browser)
  const pageErrors: string[] = []
  let tabs = 0
  return {
    relay,
    browser,
    context,
    pageErrors,
    async openTab (tabOptions: OpenTabOptions = {}) {
      const label = `tab ${++tabs}`
      const page = await context.newPage()
      watchPageErrors(page, label, pageErrors)
      const query = [options.tabQuery, tabOptions.query].filter(part => part != null && part !== '').join('&')
      const url = query === '' ? relay.appUrl : `${relay.appUrl}?${query}`
      await page.goto(url)
      await page.waitForFunction(() => window.webkad != null, undefined, { timeout: 20_000 })
      const peerId = await page.evaluate(() => window.webkad?.peerId ?? '')
      const tab = { page, label, peerId }
      if (tabOptions.connect !== false) await connectTab(tab, relay.multiaddr)
      return tab
    },
    async close () {
      await context.close().catch(() => {})
      if (ownBrowser) await browser.close().catch(() => {})
      await relay.dispose()
    }
  }
}

/** `session.connect` (the Connect button's code path); resolves once the tab is online. */
export async function connectTab (tab: BenchTab, bootnode: string): Promise<void> {
  await tab.page.evaluate(async (bootnode) => {
    const session = window.webkad?.session
    if (session == null) throw new Error('window.webkad is missing')
    await session.connect(bootnode)
  }, bootnode)
}

/** Finds `target` through the DHT from `tab`, retrying while the relay does not know it yet. */
export async function findPeerWithRetry (tab: BenchTab, target: string, timeoutMs = 10_000): Promise<void> {
  await tab.page.evaluate(async ({ target, timeoutMs }) => {
    const session = window.webkad?.session
    if (session == null) throw new Error('window.webkad is missing')
    const deadline = Date.now() + timeoutMs
    for (;;) {
      try {
        await session.findPeer(target)
        return
      } catch (err) {
        if ((err as Error).name !== 'PeerNotFoundError' || Date.now() > deadline) throw err
        await new Promise(resolve => setTimeout(resolve, 100))
      }
    }
  }, { target, timeoutMs })
}

/**
 * Waits until `tab` has held exactly one open WebRTC connection to `peer` for `quietMs`. When
 * both tabs dial at once, webkad keeps one of the two connections and closes the other about
 * 1 s later (src/p2p/network/duplicate-connections.ts), taking any stream on it along: a
 * measurement must not start on the one about to go.
 */
export async function settledDirectConnection (tab: BenchTab, peer: string, quietMs = 2_000, timeoutMs = 15_000): Promise<void> {
  await tab.page.evaluate(async ({ peer, quietMs, timeoutMs }) => {
    const node = window.webkad?.node
    if (node == null) throw new Error('tab is not connected')
    const deadline = Date.now() + timeoutMs
    let single: unknown
    let since = Date.now()
    for (;;) {
      const open = node.getConnections().filter(connection => connection.remotePeer.toString() === peer &&
        connection.remoteAddr.toString().includes('/webrtc') && connection.status === 'open')
      const current = open.length === 1 ? open[0] : undefined
      if (current !== single) { single = current; since = Date.now() }
      if (single != null && Date.now() - since >= quietMs) return
      if (Date.now() > deadline) throw new Error(`no single settled WebRTC connection to ${peer} (${open.length} open)`)
      await new Promise(resolve => setTimeout(resolve, 50))
    }
  }, { peer, quietMs, timeoutMs })
}

export async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

/** Runs `body` with a world, always closing it. */
export async function withWorld<T> (options: WorldOptions, body: (world: BenchWorld) => Promise<T>): Promise<T> {
  const world = await openWorld(options)
  try {
    return await body(world)
  } finally {
    await world.close()
  }
}
