/**
 * Restart after a crash under load: six Chromium tabs hold reservations on a real relay process
 * and have stored records, the relay is SIGKILLed, and started again on the same ports and data
 * directory. Measures how long the new process takes to listen (spawn → its address lines on
 * stdout), and how long after that each tab is Online again (re-reserved, on its own: the tabs'
 * scheduler redials). The restart of the same relay with no tabs and an empty data dir is the
 * same-run baseline.
 *
 * Run alone: node --import tsx --import ./relay/node20-polyfills.ts bench/node/relay-restart.ts [--quick]
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openWorld } from '../lib/browser-harness.ts'
import { isMainModule, runStandalone } from '../lib/standalone.ts'
import { percentile, round } from '../lib/stats.ts'
import { startRelayProcess } from '../../test/harness/relay-process.ts'
import { buildRelay } from '../../scripts/build-relay.ts'
import type { BenchTab } from '../lib/browser-harness.ts'
import type { BrowserBenchOptions } from '../lib/browser-harness.ts'
import type { BenchRow, BenchSection } from '../lib/types.ts'

const TABS = 6
const LISTEN_GOAL_MS = 2_000
const ONLINE_GOAL_MS = 3_000
const ONLINE_TIMEOUT_MS = 60_000
/** The relay as it ships (dist-relay/); WEBKAD_BENCH_RELAY=tsx runs relay/main.ts through tsx instead. */
const COMPILED = process.env.WEBKAD_BENCH_RELAY !== 'tsx'

declare global {
  interface Window { __webkadBenchOnlineAt?: number }
}

/** One crash-and-restart round's figures. */
export interface RestartRound {
  /** From spawning the new relay process until it printed its listening addresses. */
  listeningMs: number
  /** Per tab: from the relay listening until that tab was Online again. */
  onlineAfterListeningMs: number[]
  /** Records the tabs put before the crash that a Get still finds afterwards. */
  recordsFound: number
  recordsPut: number
  /** Open tab-to-tab WebRTC connections (counted at both ends) before the crash, and those still open after. */
  directConnectionsBefore: number
  directConnectionsKept: number
}

async function directConnectionIds (tab: BenchTab): Promise<string[]> {
  return await tab.page.evaluate(() => (window.webkad?.node?.getConnections() ?? [])
    .filter(connection => connection.remoteAddr.toString().includes('/webrtc') && connection.status === 'open')
    .map(connection => connection.id))
}

/** Records in each page when its session next turns Online (after the relay was lost). */
async function watchForOnline (tab: BenchTab): Promise<void> {
  await tab.page.evaluate(() => {
    const session = window.webkad?.session
    if (session == null) throw new Error('window.webkad is missing')
    window.__webkadBenchOnlineAt = undefined
    let lost = false
    const check = (): void => {
      const status = session.state.getSnapshot().status
      if (status !== 'online') lost = true
      else if (lost && window.__webkadBenchOnlineAt == null) window.__webkadBenchOnlineAt = Date.now()
    }
    session.state.subscribe(check)
    check()
  })
}

async function onlineAt (tab: BenchTab): Promise<number> {
  const handle = await tab.page.waitForFunction(() => window.__webkadBenchOnlineAt, undefined, { timeout: ONLINE_TIMEOUT_MS, polling: 50 })
  return await handle.jsonValue() as number
}

/** Crash (SIGKILL) the world's relay with `TABS` tabs online and one record per tab, restart it, measure. */
export async function measureRestartAfterCrash (options: BrowserBenchOptions): Promise<RestartRound> {
  const world = await openWorld({ ...(options.browser != null ? { browser: options.browser } : {}), compiledRelay: COMPILED })
  try {
    const tabs: BenchTab[] = []
    for (let index = 0; index < TABS; index++) tabs.push(await world.openTab())
    const keys = tabs.map((_, index) => `/webkad/restart-bench-${Date.now()}-${index}`)
    await Promise.all(tabs.map(async (tab, index) => {
      await tab.page.evaluate(async ({ key, text }) => {
        await window.webkad?.session.put(key, { type: 'text', text })
      }, { key: keys[index] as string, text: `value ${index}` })
    }))
    // The tabs' scheduler opens direct WebRTC connections among them within a few seconds.
    await Promise.all(tabs.map(async tab => await tab.page.waitForFunction(() => (window.webkad?.node?.getConnections() ?? [])
      .some(connection => connection.remoteAddr.toString().includes('/webrtc') && connection.status === 'open'), undefined, { timeout: 30_000, polling: 100 })))
    const directBefore = await Promise.all(tabs.map(directConnectionIds))
    await Promise.all(tabs.map(watchForOnline))

    await world.relay.kill()
    const spawnedAt = Date.now()
    await world.relay.restart()
    const listeningAt = Date.now()
    const online = await Promise.all(tabs.map(onlineAt))

    const directAfter = await Promise.all(tabs.map(directConnectionIds))
    const kept = directBefore.reduce((sum, ids, index) => sum + ids.filter(id => directAfter[index]?.includes(id)).length, 0)
    // Every record is still there: each tab reads another tab's record.
    const found = await Promise.all(tabs.map(async (tab, index) => await tab.page.evaluate(async (key) => {
      try {
        return (await window.webkad?.session.get(key))?.record != null
      } catch {
        return false
      }
    }, keys[(index + 1) % TABS] as string)))
    return {
      listeningMs: listeningAt - spawnedAt,
      onlineAfterListeningMs: online.map(at => Math.max(0, at - listeningAt)),
      recordsFound: found.filter(Boolean).length,
      recordsPut: keys.length,
      directConnectionsBefore: directBefore.reduce((sum, ids) => sum + ids.length, 0),
      directConnectionsKept: kept
    }
  } finally {
    await world.close()
  }
}

/** The baseline: the same relay killed and restarted with no tabs ever connected. */
async function measureIdleRestart (): Promise<number> {
  const dataDir = await mkdtemp(join(tmpdir(), 'webkad-bench-restart-'))
  const relay = await startRelayProcess({ dataDir, compiled: COMPILED })
  try {
    await relay.kill()
    const spawnedAt = Date.now()
    await relay.restart()
    return Date.now() - spawnedAt
  } finally {
    await relay.dispose()
    await rm(dataDir, { recursive: true, force: true })
  }
}

export async function runRelayRestart (options: BrowserBenchOptions): Promise<BenchSection> {
  const rounds: RestartRound[] = []
  const idle: number[] = []
  const count = options.quick ? 1 : 3
  // What npm start runs, from the current sources.
  if (COMPILED) await buildRelay()
  for (let round = 0; round < count; round++) {
    idle.push(await measureIdleRestart())
    rounds.push(await measureRestartAfterCrash(options))
  }
  const listening = rounds.map(r => r.listeningMs)
  const online = rounds.flatMap(r => r.onlineAfterListeningMs)
  const listeningMax = Math.max(...listening)
  const onlineP95 = percentile(online, 0.95)
  const idleMedian = percentile(idle, 0.5)
  const rows: BenchRow[] = [
    {
      metric: 'restart after crash, listening',
      value: round(listeningMax),
      unit: 'ms',
      baseline: round(idleMedian),
      baselineLabel: 'restart with no tabs, empty data dir, same run',
      ratio: round(listeningMax / idleMedian),
      goal: `≤ ${LISTEN_GOAL_MS} ms`,
      met: listeningMax <= LISTEN_GOAL_MS,
      note: `worst of ${rounds.length} round(s): ${listening.map(ms => round(ms)).join(', ')} ms (spawn → addresses printed)`
    },
    {
      metric: 'restart after crash, all tabs online',
      value: round(onlineP95),
      unit: 'ms',
      goal: `p95 ≤ ${ONLINE_GOAL_MS} ms after listening`,
      met: onlineP95 <= ONLINE_GOAL_MS,
      note: `p95 over ${online.length} tab re-reservations (${TABS} tabs × ${rounds.length}); p50 ${round(percentile(online, 0.5))}, max ${round(Math.max(...online))} ms`
    },
    {
      metric: 'tab-to-tab WebRTC connections kept through the crash',
      value: `${rounds.reduce((sum, r) => sum + r.directConnectionsKept, 0)} / ${rounds.reduce((sum, r) => sum + r.directConnectionsBefore, 0)}`,
      unit: ''
    },
    {
      metric: 'records found after the crash',
      value: `${rounds.reduce((sum, r) => sum + r.recordsFound, 0)} / ${rounds.reduce((sum, r) => sum + r.recordsPut, 0)}`,
      unit: ''
    }
  ]
  return {
    title: `Relay: restart after a crash with ${TABS} tabs online`,
    rows,
    notes: [
      `${TABS} Chromium tabs (one context, the default scheduler) connect to a relay process (test/harness/relay-process.ts) and each puts one record; the relay is SIGKILLed and started again on the same ports and data directory. "listening" runs from spawning the new process until it printed its addresses (it listens on WebSocket and HTTP by then); "online" from then until each tab's session is Online again (reservation granted), recorded in the page.`,
      'Baseline: the same relay started, killed and restarted with no tabs (empty data dir).',
      `The relay is ${COMPILED ? 'the compiled one (dist-relay/webkad-relay.js, what npm start runs)' : 'relay/main.ts through tsx (WEBKAD_BENCH_RELAY=tsx)'}. Before the fix (relay through tsx, tabs with the stock circuit relay transport) one quick run here measured 7.0 and 8.7 s to listen: the tabs, having lost the relay, ran libp2p's relay search (back-to-back random-walk DHT lookups against each other) and took ~2.4 of the 2 cores' worth of time slices from the starting relay, which was then compiling its TypeScript.`
    ]
  }
}

if (isMainModule(import.meta.url)) {
  void runStandalone(runRelayRestart)
}
