/**
 * The soak loop behind `npm run soak` (e2e/soak/main.ts, minutes) and the CI spec
 * (e2e/specs/soak.spec.ts, about a minute). A real relay process and a pool of tabs, each in
 * its own browser context (its own identity); one "anchor" tab stays for the whole run and sees
 * every other tab come and go. Each round, driven through the UI's page objects:
 *
 *   1. a new tab joins (Connect to the bootnode) and the relay must hold one reservation per tab;
 *   2. it chats with every tab, every tab answers, and the older tabs chat in a ring: each
 *      message has a unique text and must arrive exactly once, in order, and be acknowledged;
 *   3. it puts a round-specific record, another tab gets it, and it gets the previous round's
 *      record (whose writer may have left): every get must return the value put;
 *   4. the oldest tab other than the anchor leaves (page closed): its reservation must be freed;
 *   5. samples: relay RSS (GET /status, after a full GC in the relay) and, per tab, the
 *      RTCPeerConnections created and not closed (rtc-counter.ts).
 *
 * The pass criteria are SOAK_CRITERIA below, evaluated by evaluateSoak().
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect } from '@playwright/test'
import { allowTsxPageFunctions } from '../../test/harness/browser-launch.ts'
import { watchPageErrors } from '../../test/harness/page-errors.ts'
import { startRelayProcess } from '../../test/harness/relay-process.ts'
import { ChatPanel } from '../pages/chat-panel.ts'
import { DhtPanel } from '../pages/dht-panel.ts'
import { WebkadTab } from '../pages/webkad-tab.ts'
import { installRtcCounter, readRtc } from './rtc-counter.ts'
import type { Browser, BrowserContext } from 'playwright-core'
import type { RelayProcess } from '../../test/harness/relay-process.ts'
import type { RelayStatus } from '../../relay/http-server.ts'
import type { RtcReading } from './rtc-counter.ts'

/** The pass criteria, in one place. */
export const SOAK_CRITERIA = {
  /**
   * Relay RSS, read right after a full GC, at the end minus after warm-up (medians of up to 3
   * readings). Measured here: +9.7 MB over 10 minutes (36 rounds, ~0.3 MB per round, mostly
   * outside the V8 heap and slowing down); V8 also hands back ~15 MB at once now and then. The
   * bound is that noise plus about twice the measured growth: a leak of ~1 MB per round fails.
   */
  maxRelayRssGrowthMB: 40,
  /**
   * The relay's V8 heap used, after a full GC, same readings: far less noisy than RSS, so a
   * JavaScript leak of ~250 KB per round fails over 10 minutes. Measured: +1.3 to +2 MB, flattening.
   */
  maxRelayHeapGrowthMB: 10,
  /**
   * Open RTCPeerConnections (created − closed) per tab ≤ the other live tabs + this slack: one
   * connection per peer, plus a dial in flight or a simultaneous-dial duplicate being pruned.
   */
  rtcSlack: 2,
  /**
   * How long the other tabs may take to drop a tab that left. Measured: 6-8 s, every time
   * (Chromium tells the remote nothing on close(); it notices when ICE consent fails).
   */
  rtcSettleMs: 15_000,
  /** After a join or a leave the relay's reservations must equal the live tabs within this time. */
  reservationSettleMs: 5_000,
  /** Every message sent must be received and acknowledged within this time. */
  chatDeliveryMs: 45_000
} as const

export type SoakCriteria = typeof SOAK_CRITERIA

export interface SoakOptions {
  browser: Browser
  /** No new round starts after this long (the fill before round 1 counts). */
  durationMs: number
  /** At least this many rounds, even past durationMs. @default 1 */
  minRounds?: number
  /** At most this many rounds. @default unlimited */
  maxRounds?: number
  /** Tabs alive during a round (anchor included), after the join. @default 5 */
  poolSize?: number
  /** Rounds before the relay RSS baseline is taken. @default 2 */
  warmupRounds?: number
  /** Messages each way between the new tab and every other tab, per round. @default 2 */
  messagesPerPair?: number
  log?: (line: string) => void
}

/** One round's readings, taken after the leave. */
export interface RoundSample {
  round: number
  atMs: number
  liveTabs: number
  /** rssMB: /status before the GC; after GC: process.memoryUsage() right after a full GC (heap: V8's used heap). */
  relay: { connections: number, reservations: number, routingTable: number, rssMB: number, rssAfterGcMB: number, heapAfterGcMB?: number, externalAfterGcMB?: number }
  /** ms from the page close until the relay held one reservation per live tab. */
  reservationFreedMs: number
  /** ms from the reservation being freed until no tab held more open RTCPeerConnections than other live tabs. */
  rtcReleaseMs: number
  /** Per live tab: open RTCPeerConnections once settled, libp2p WebRTC connections and their peers, created so far. */
  tabs: Array<{ label: string, open: number, webrtcConnections: number, webrtcPeers: number, created: number }>
  durationsMs: { join: number, chat: number, dht: number, leave: number, round: number }
}

export interface SoakFigures {
  rounds: number
  tabsJoined: number
  tabsLeft: number
  chat: { sent: number, delivered: number, lost: number, duplicated: number, outOfOrder: number, unacknowledged: number }
  dht: { puts: number, putsOk: number, gets: number, getsOk: number }
  /** After a full GC, except peakWithoutGc; after warm-up and end are medians of up to 3 readings. heap*: V8 heap used. */
  relayRssMB: { first: number, afterWarmup: number, peak: number, end: number, growth: number, peakWithoutGc: number, heapAfterWarmup: number, heapEnd: number }
  reservations: { maxFreeMs: number, stuck: number }
  rtc: {
    /** Highest settled open count of any tab, and the bound that applied at that sample. */
    maxOpenPerTab: number
    /** Highest open count seen in any reading, before settling. */
    maxOpenSeen: number
    createdTotal: number
    createdMaxPerTab: number
    anchorCreated: number
    anchorMaxOpen: number
    /** Slowest time, after a leave, until every tab held at most one per other live tab. */
    maxReleaseMs: number
    /** Tab readings still above one per live peer after rtcSettleMs, but within the slack. */
    aboveLivePeers: number
    violations: number
  }
  escapedErrors: number
}

export interface SoakCheck {
  criterion: string
  bound: string
  value: string
  pass: boolean
}

export interface SoakResult {
  startedAt: string
  durationMs: number
  options: { durationMs: number, minRounds: number, maxRounds: number | null, poolSize: number, warmupRounds: number, messagesPerPair: number }
  criteria: SoakCriteria
  figures: SoakFigures
  checks: SoakCheck[]
  passed: boolean
  /** Functional failures and criterion violations as they happened. */
  failures: string[]
  escapedErrors: string[]
  samples: RoundSample[]
  /** The relay's output tail, when something failed. */
  relayOutput?: string
}

interface SoakTab {
  label: string
  anchor: boolean
  context: BrowserContext
  tab: WebkadTab
  chat: ChatPanel
  dht: DhtPanel
  id: string
  alive: boolean
  lastRtc?: RtcReading
}

/** Messages from one tab to another over the run, in the order sent. */
interface ChatLedgerEntry {
  from: SoakTab
  to: SoakTab
  texts: string[]
  /** From the last verification: texts received exactly once, duplicates, order, acks. */
  delivered: number
  duplicated: number
  outOfOrder: boolean
  unacknowledged: number
}

interface StoredMessage { peer: string, direction: string, sequence: number, id: string, text: string, state?: string }

const MB = 1024 * 1024
const APP_LOAD_TIMEOUT_MS = 30_000

export async function runSoak (options: SoakOptions): Promise<SoakResult> {
  const poolSize = options.poolSize ?? 5
  const warmupRounds = options.warmupRounds ?? 2
  const messagesPerPair = options.messagesPerPair ?? 2
  const minRounds = options.minRounds ?? 1
  const maxRounds = options.maxRounds ?? Number.POSITIVE_INFINITY
  const log = options.log ?? (() => {})
  if (poolSize < 3) throw new Error('poolSize must be at least 3 (the anchor, a rotating tab and the newcomer)')

  const startedAt = new Date()
  const clock = Date.now()
  const elapsed = (): number => Date.now() - clock
  const runId = randomBytes(3).toString('hex')
  const failures: string[] = []
  const escapedErrors: string[] = []
  const samples: RoundSample[] = []
  const ledger = new Map<string, ChatLedgerEntry>()
  const tabs: SoakTab[] = []
  const figures = {
    tabsJoined: 0,
    tabsLeft: 0,
    puts: 0,
    putsOk: 0,
    gets: 0,
    getsOk: 0,
    reservationMaxFreeMs: 0,
    reservationStuck: 0,
    rtcViolations: 0,
    rtcAboveLivePeers: 0,
    rtcMaxReleaseMs: 0,
    rtcMaxOpenSeen: 0,
    rtcCreatedOfClosedTabs: 0,
    rtcCreatedMaxPerTab: 0
  }
  let firstRssMB = Number.NaN
  let previousRecord: { key: string, value: string } | undefined
  let rounds = 0

  const relay = await startSoakRelay()
  log(`relay ${relay.process.peerId} on ${relay.process.appUrl} (pid ${relay.pid ?? 'unknown: RSS without a forced GC'})`)

  const live = (): SoakTab[] => tabs.filter(tab => tab.alive)

  const join = async (): Promise<SoakTab> => {
    const label = tabs.length === 0 ? 'A' : `t${tabs.length}`
    const context = await options.browser.newContext()
    await allowTsxPageFunctions(context)
    await context.addInitScript(installRtcCounter)
    const page = await context.newPage()
    watchPageErrors(page, label, escapedErrors, { console: true })
    const tab = new WebkadTab(page, relay.process.appUrl)
    const soakTab: SoakTab = { label, anchor: tabs.length === 0, context, tab, chat: new ChatPanel(page), dht: new DhtPanel(page), id: '', alive: true }
    tabs.push(soakTab)
    figures.tabsJoined++
    // tab.goto() waits with expect's default timeout, which is 5 s outside Playwright Test:
    // a cold first load on a busy machine can take longer.
    await page.goto(relay.process.appUrl)
    await expect(tab.ownPeerId).toHaveText(/^\S{40,}$/, { timeout: APP_LOAD_TIMEOUT_MS })
    await tab.connect()
    soakTab.id = await tab.peerId()
    return soakTab
  }

  const leave = async (soakTab: SoakTab): Promise<void> => {
    const reading = await readRtc(soakTab.tab.page).catch(() => soakTab.lastRtc)
    figures.rtcCreatedOfClosedTabs += reading?.created ?? 0
    figures.rtcCreatedMaxPerTab = Math.max(figures.rtcCreatedMaxPerTab, reading?.created ?? 0)
    soakTab.alive = false
    figures.tabsLeft++
    await soakTab.tab.page.close()
    await soakTab.context.close()
  }

  /** Polls /status until reservations == live tabs; returns how long it took, or records a stuck reservation. */
  const expectReservations = async (when: string): Promise<{ status: RelayStatus, ms: number }> => {
    const since = Date.now()
    const expected = live().length
    for (;;) {
      const status = await relay.status()
      const ms = Date.now() - since
      if (status.reservations === expected) return { status, ms }
      if (ms > SOAK_CRITERIA.reservationSettleMs) {
        figures.reservationStuck++
        failures.push(`${when}: the relay holds ${status.reservations} reservations for ${expected} live tabs after ${ms} ms`)
        return { status, ms }
      }
      await sleep(100)
    }
  }

  /**
   * Reads every live tab until each holds at most one open RTCPeerConnection per other live tab
   * (returns how long that took), or rtcSettleMs passed: then more than the slack above that is
   * a violation, and within the slack it is counted (rtcAboveLivePeers) but passes.
   */
  const settleRtc = async (when: string): Promise<{ readings: Array<{ tab: SoakTab, reading: RtcReading }>, ms: number }> => {
    const since = Date.now()
    for (;;) {
      const current = live()
      const readings = await Promise.all(current.map(async tab => ({ tab, reading: await readRtc(tab.tab.page) })))
      for (const { tab, reading } of readings) {
        tab.lastRtc = reading
        figures.rtcMaxOpenSeen = Math.max(figures.rtcMaxOpenSeen, reading.open)
      }
      const ms = Date.now() - since
      const peers = current.length - 1
      if (readings.every(({ reading }) => reading.open <= peers)) return { readings, ms }
      if (ms > SOAK_CRITERIA.rtcSettleMs) {
        const bound = peers + SOAK_CRITERIA.rtcSlack
        const over = readings.filter(({ reading }) => reading.open > bound)
        figures.rtcAboveLivePeers += readings.filter(({ reading }) => reading.open > peers && reading.open <= bound).length
        if (over.length === 0) return { readings, ms }
        figures.rtcViolations += over.length
        for (const { tab, reading } of over) {
          failures.push(`${when}: tab ${tab.label} holds ${reading.open} open RTCPeerConnections (${reading.openStates.join(', ')}) with ${peers} other live tabs ` +
            `(bound ${bound}); its node has ${reading.webrtcConnections} WebRTC connections to ${reading.webrtcPeers} peers`)
        }
        return { readings, ms }
      }
      await sleep(250)
    }
  }

  const chatRound = async (round: number, newcomer: SoakTab, others: SoakTab[]): Promise<void> => {
    const plan = new Map<SoakTab, Array<{ to: SoakTab, texts: string[] }>>()
    const add = (from: SoakTab, to: SoakTab, count: number): void => {
      const texts = Array.from({ length: count }, (_, index) => `soak ${runId} r${round} ${from.label}→${to.label} #${index + 1} ${randomBytes(4).toString('hex')}`)
      const key = `${from.id}>${to.id}`
      const entry = ledger.get(key) ?? { from, to, texts: [], delivered: 0, duplicated: 0, outOfOrder: false, unacknowledged: 0 }
      entry.texts.push(...texts)
      ledger.set(key, entry)
      plan.set(from, [...(plan.get(from) ?? []), { to, texts }])
    }
    for (const other of others) {
      add(newcomer, other, messagesPerPair)
      add(other, newcomer, messagesPerPair)
    }
    // The tabs that stay keep long conversations going: sequences grow over many rounds.
    if (others.length >= 2) others.forEach((other, index) => { add(other, others[(index + 1) % others.length] as SoakTab, 1) })

    await Promise.all([...plan].map(async ([from, sends]) => {
      for (const { to, texts } of sends) {
        await from.chat.openChat(to.id)
        for (const text of texts) await from.chat.send(text)
      }
    }))
    await verifyChat(`round ${round}`)
  }

  /** Waits until every live pair shows exactly the ledger (received once, in order, acknowledged). */
  const verifyChat = async (when: string): Promise<void> => {
    const deadline = Date.now() + SOAK_CRITERIA.chatDeliveryMs
    for (;;) {
      const current = live()
      const stored = new Map(await Promise.all(current.map(async tab => [tab, await storedMessages(tab)] as const)))
      const pending: string[] = []
      for (const entry of ledger.values()) {
        if (!entry.from.alive || !entry.to.alive) continue
        const incoming = (stored.get(entry.to) ?? []).filter(message => message.peer === entry.from.id && message.direction === 'in')
        const outgoing = (stored.get(entry.from) ?? []).filter(message => message.peer === entry.to.id && message.direction === 'out')
        judge(entry, incoming, outgoing)
        if (entry.delivered < entry.texts.length || entry.duplicated > 0 || entry.outOfOrder || entry.unacknowledged > 0) {
          pending.push(`${entry.from.label}→${entry.to.label}: ${entry.delivered}/${entry.texts.length} received once, ${entry.duplicated} duplicated, ` +
            `${entry.outOfOrder ? 'OUT OF ORDER, ' : ''}${entry.unacknowledged} not acknowledged`)
        }
      }
      if (pending.length === 0) return
      if (Date.now() > deadline) {
        failures.push(`${when}: chat not complete after ${SOAK_CRITERIA.chatDeliveryMs} ms: ${pending.join('; ')}`)
        return
      }
      await sleep(250)
    }
  }

  const dhtRound = async (round: number, newcomer: SoakTab, others: SoakTab[]): Promise<void> => {
    const key = `soak-${runId}-r${round}`
    const value = `round ${round} by ${newcomer.label} ${randomBytes(6).toString('hex')}`
    figures.puts++
    const sequence = await newcomer.dht.putValue(key, value)
    if (sequence !== 1) failures.push(`round ${round}: put of the fresh key ${key} stored sequence ${sequence}, expected 1`)
    else figures.putsOk++
    // Another tab reads it: a different one each round, the anchor included.
    const reader = others[round % others.length] as SoakTab
    const checks: Array<{ tab: SoakTab, key: string, value: string }> = [{ tab: reader, key, value }]
    // The previous round's record, from the tab that just joined: its writer may have left since.
    if (previousRecord != null) checks.push({ tab: newcomer, ...previousRecord })
    for (const check of checks) {
      figures.gets++
      const got = await check.tab.dht.getValue(check.key)
      if (got === check.value) figures.getsOk++
      else failures.push(`round ${round}: get of ${check.key} from ${check.tab.label} returned "${got}", expected "${check.value}"`)
    }
    previousRecord = { key, value }
  }

  let aborted: string | undefined
  try {
    // Fill: the anchor and enough rotating tabs that a round's join makes poolSize.
    while (live().length < poolSize - 1) {
      await join()
      await expectReservations(`fill, ${live().length} tabs`)
    }
    const fill = await relay.afterGc()
    firstRssMB = (fill.memory?.rss ?? fill.status.rssBytes) / MB
    log(`fill: ${live().length} tabs online after ${(elapsed() / 1000).toFixed(1)} s; relay RSS ${firstRssMB.toFixed(1)} MB after GC`)

    while (rounds < maxRounds && (rounds < minRounds || elapsed() < options.durationMs)) {
      const round = rounds + 1
      const roundStart = Date.now()
      const others = live()
      const newcomer = await join()
      const joinMs = Date.now() - roundStart
      await expectReservations(`round ${round}, after ${newcomer.label} joined`)

      let mark = Date.now()
      await chatRound(round, newcomer, others)
      const chatMs = Date.now() - mark

      mark = Date.now()
      await dhtRound(round, newcomer, others)
      const dhtMs = Date.now() - mark

      mark = Date.now()
      const leaving = live().find(tab => !tab.anchor) as SoakTab
      await leave(leaving)
      const reserved = await expectReservations(`round ${round}, after ${leaving.label} left`)
      const leaveMs = Date.now() - mark
      figures.reservationMaxFreeMs = Math.max(figures.reservationMaxFreeMs, reserved.ms)

      const { readings, ms: releaseMs } = await settleRtc(`round ${round}, after ${leaving.label} left`)
      figures.rtcMaxReleaseMs = Math.max(figures.rtcMaxReleaseMs, releaseMs)
      const { status, memory } = await relay.afterGc()
      rounds = round
      const sample: RoundSample = {
        round,
        atMs: elapsed(),
        liveTabs: live().length,
        relay: {
          connections: status.connections,
          reservations: status.reservations,
          routingTable: status.routingTable,
          rssMB: round1(reserved.status.rssBytes / MB),
          rssAfterGcMB: round1((memory?.rss ?? status.rssBytes) / MB),
          ...(memory != null ? { heapAfterGcMB: round1(memory.heapUsed / MB), externalAfterGcMB: round1(memory.external / MB) } : {})
        },
        reservationFreedMs: reserved.ms,
        rtcReleaseMs: releaseMs,
        tabs: readings.map(({ tab, reading }) => ({ label: tab.label, open: reading.open, webrtcConnections: reading.webrtcConnections, webrtcPeers: reading.webrtcPeers, created: reading.created })),
        durationsMs: { join: joinMs, chat: chatMs, dht: dhtMs, leave: leaveMs, round: Date.now() - roundStart }
      }
      samples.push(sample)
      log(`round ${round} (${(sample.atMs / 1000).toFixed(0)} s): +${newcomer.label} ${joinMs} ms, chat ${chatMs} ms, put/get ${dhtMs} ms, ` +
        `−${leaving.label} reservation freed in ${reserved.ms} ms; relay ${status.connections} conns ${status.reservations} resv ` +
        `RSS ${sample.relay.rssMB} MB (${sample.relay.rssAfterGcMB} after GC, heap ${sample.relay.heapAfterGcMB ?? '?'}); open RTCPeerConnections ` +
        sample.tabs.map(tab => `${tab.label}:${tab.open}/${tab.webrtcConnections}/${tab.webrtcPeers}`).join(' ') + ` (open/libp2p conns/peers, settled in ${releaseMs} ms)` +
        (failures.length > 0 ? `; ${failures.length} failure(s) so far` : ''))
      // A functional failure (chat, DHT) makes later rounds meaningless: stop and report.
      if (failures.some(failure => /chat not complete|get of|put of/.test(failure))) {
        aborted = 'a functional failure (see failures)'
        break
      }
    }
  } catch (err) {
    aborted = err instanceof Error ? `${err.name}: ${err.message}` : String(err)
    failures.push(`round ${rounds + 1} aborted: ${aborted}`)
  } finally {
    for (const tab of live()) {
      const reading = await readRtc(tab.tab.page).catch(() => tab.lastRtc)
      tab.lastRtc = reading
    }
    await Promise.all(live().map(async tab => { await tab.context.close().catch(() => {}) }))
  }

  const result = buildResult()
  if (!result.passed) result.relayOutput = relay.process.output().slice(-20_000)
  await relay.dispose()
  return result

  function buildResult (): SoakResult {
    const chat = { sent: 0, delivered: 0, lost: 0, duplicated: 0, outOfOrder: 0, unacknowledged: 0 }
    for (const entry of ledger.values()) {
      chat.sent += entry.texts.length
      chat.delivered += entry.delivered
      chat.duplicated += entry.duplicated
      chat.outOfOrder += entry.outOfOrder ? 1 : 0
      chat.unacknowledged += entry.unacknowledged
    }
    chat.lost = chat.sent - chat.delivered

    const gcSeries = samples.map(sample => sample.relay.rssAfterGcMB)
    // Baseline after warm-up and the end: medians of up to 3 readings, so one noisy reading does not decide.
    const window = Math.max(1, Math.min(3, Math.floor((samples.length - warmupRounds) / 3)))
    const baselineIndex = Math.max(0, Math.min(warmupRounds - 1, samples.length - 1))
    const afterWarmup = median(gcSeries.slice(baselineIndex, baselineIndex + window))
    const end = median(gcSeries.slice(-window))
    const growth = end - afterWarmup
    const heapSeries = samples.map(sample => sample.relay.heapAfterGcMB ?? Number.NaN)
    const heapAfterWarmup = median(heapSeries.slice(baselineIndex, baselineIndex + window))
    const heapEnd = median(heapSeries.slice(-window))
    const heapGrowth = heapEnd - heapAfterWarmup

    const anchor = tabs[0]
    const settledOpen = samples.flatMap(sample => sample.tabs.map(tab => tab.open))
    // Tabs still open at the end were read once more before their contexts closed.
    const remaining = tabs.filter(tab => tab.alive).map(tab => tab.lastRtc?.created ?? 0)
    const createdTotal = figures.rtcCreatedOfClosedTabs + remaining.reduce((sum, created) => sum + created, 0)
    const createdMaxPerTab = Math.max(figures.rtcCreatedMaxPerTab, ...remaining)

    const soakFigures: SoakFigures = {
      rounds,
      tabsJoined: figures.tabsJoined,
      tabsLeft: figures.tabsLeft,
      chat,
      dht: { puts: figures.puts, putsOk: figures.putsOk, gets: figures.gets, getsOk: figures.getsOk },
      relayRssMB: {
        first: round1(firstRssMB),
        afterWarmup: round1(afterWarmup),
        peak: round1(Math.max(firstRssMB, ...gcSeries)),
        end: round1(end),
        growth: round1(growth),
        peakWithoutGc: round1(Math.max(0, ...samples.map(sample => sample.relay.rssMB))),
        heapAfterWarmup: round1(heapAfterWarmup),
        heapEnd: round1(heapEnd)
      },
      reservations: { maxFreeMs: figures.reservationMaxFreeMs, stuck: figures.reservationStuck },
      rtc: {
        maxOpenPerTab: Math.max(0, ...settledOpen),
        maxOpenSeen: figures.rtcMaxOpenSeen,
        createdTotal,
        createdMaxPerTab,
        anchorCreated: anchor?.lastRtc?.created ?? 0,
        anchorMaxOpen: Math.max(0, ...samples.flatMap(sample => sample.tabs.filter(tab => tab.label === 'A').map(tab => tab.open))),
        maxReleaseMs: figures.rtcMaxReleaseMs,
        aboveLivePeers: figures.rtcAboveLivePeers,
        violations: figures.rtcViolations
      },
      escapedErrors: escapedErrors.length
    }

    const rtcBound = poolSize - 2 + SOAK_CRITERIA.rtcSlack
    const checks: SoakCheck[] = [
      { criterion: 'rounds completed', bound: `≥ ${minRounds}, none aborted`, value: `${rounds}${aborted != null ? ` (aborted: ${aborted})` : ''}`, pass: rounds >= minRounds && aborted == null },
      {
        criterion: 'relay RSS growth after warm-up (after GC)',
        bound: `≤ ${SOAK_CRITERIA.maxRelayRssGrowthMB} MB`,
        value: Number.isFinite(growth) ? `${round1(growth)} MB (${round1(afterWarmup)} → ${round1(end)})` : 'no readings',
        pass: Number.isFinite(growth) && growth <= SOAK_CRITERIA.maxRelayRssGrowthMB
      },
      {
        criterion: 'relay V8 heap growth after warm-up (after GC)',
        bound: `≤ ${SOAK_CRITERIA.maxRelayHeapGrowthMB} MB`,
        value: Number.isFinite(heapGrowth) ? `${round1(heapGrowth)} MB (${round1(heapAfterWarmup)} → ${round1(heapEnd)})` : 'no readings (relay pid not found)',
        pass: Number.isFinite(heapGrowth) && heapGrowth <= SOAK_CRITERIA.maxRelayHeapGrowthMB
      },
      {
        criterion: 'open RTCPeerConnections per tab',
        bound: `≤ other live tabs + ${SOAK_CRITERIA.rtcSlack} (= ${rtcBound}) within ${SOAK_CRITERIA.rtcSettleMs / 1000} s of a leave`,
        value: `max ${soakFigures.rtc.maxOpenPerTab}; ${figures.rtcViolations} violation(s), ${figures.rtcAboveLivePeers} within the slack`,
        pass: figures.rtcViolations === 0 && samples.length > 0
      },
      {
        criterion: 'chat messages lost / duplicated / out of order / unacknowledged',
        bound: '0 / 0 / 0 / 0',
        value: `${chat.lost} / ${chat.duplicated} / ${chat.outOfOrder} / ${chat.unacknowledged} of ${chat.sent}`,
        pass: chat.sent > 0 && chat.lost === 0 && chat.duplicated === 0 && chat.outOfOrder === 0 && chat.unacknowledged === 0
      },
      {
        criterion: 'reservations == live tabs after every join and leave',
        bound: `within ${SOAK_CRITERIA.reservationSettleMs / 1000} s`,
        value: `${figures.reservationStuck} stuck; slowest freed in ${figures.reservationMaxFreeMs} ms`,
        pass: figures.reservationStuck === 0
      },
      {
        criterion: 'puts stored / gets returning the value put',
        bound: 'all',
        value: `${figures.putsOk}/${figures.puts} / ${figures.getsOk}/${figures.gets}`,
        pass: figures.puts > 0 && figures.putsOk === figures.puts && figures.getsOk === figures.gets
      },
      { criterion: 'errors escaped from pages', bound: '0', value: String(escapedErrors.length), pass: escapedErrors.length === 0 }
    ]
    return {
      startedAt: startedAt.toISOString(),
      durationMs: elapsed(),
      options: { durationMs: options.durationMs, minRounds, maxRounds: Number.isFinite(maxRounds) ? maxRounds : null, poolSize, warmupRounds, messagesPerPair },
      criteria: SOAK_CRITERIA,
      figures: soakFigures,
      checks,
      passed: checks.every(check => check.pass),
      failures,
      escapedErrors,
      samples
    }
  }
}

/** Compares what a pair's receiver stored and its sender shows with the ledger. */
function judge (entry: ChatLedgerEntry, incoming: StoredMessage[], outgoing: StoredMessage[]): void {
  const expected = new Map(entry.texts.map((text, index) => [text, index]))
  const seen = new Map<string, number>()
  let unexpected = 0
  for (const message of incoming) {
    if (expected.has(message.text)) seen.set(message.text, (seen.get(message.text) ?? 0) + 1)
    else unexpected++
  }
  entry.delivered = [...seen.values()].filter(count => count === 1).length
  entry.duplicated = unexpected + [...seen.values()].reduce((sum, count) => sum + count - 1, 0)
  const positions = incoming.map(message => expected.get(message.text)).filter((index): index is number => index != null)
  const sequences = incoming.map(message => message.sequence)
  entry.outOfOrder = positions.some((position, index) => index > 0 && position <= (positions[index - 1] as number)) ||
    sequences.some((sequence, index) => index > 0 && sequence <= (sequences[index - 1] as number)) ||
    new Set(incoming.map(message => message.id)).size !== incoming.length
  const acknowledged = outgoing.filter(message => message.state === 'delivered' && expected.has(message.text)).length
  entry.unacknowledged = entry.texts.length - acknowledged
}

/** Every chat message the tab's core holds (all conversations, not only the one on screen). */
async function storedMessages (tab: SoakTab): Promise<StoredMessage[]> {
  return await tab.tab.page.evaluate(() => (window.webkad?.session.conversations.getSnapshot() ?? []).flatMap(conversation =>
    conversation.messages.map(({ direction, sequence, id, text, state }) => ({ peer: conversation.peer, direction, sequence, id, text, state }))))
}

/** The relay process's memory right after a full GC (process.memoryUsage(), bytes). */
interface RelayMemory { at: number, rss: number, heapUsed: number, external: number, arrayBuffers: number }

interface SoakRelay {
  process: RelayProcess
  pid?: number
  status(): Promise<RelayStatus>
  /**
   * A full GC in the relay, then its memory and GET /status, so RSS is live memory rather than
   * garbage (without the pid: /status alone, memory undefined).
   */
  afterGc(): Promise<{ status: RelayStatus, memory?: RelayMemory }>
  dispose(): Promise<void>
}

/**
 * Preloaded into the relay through NODE_OPTIONS: on SIGUSR2, a full GC, then
 * process.memoryUsage() into the file named by WEBKAD_SOAK_MEMORY_FILE.
 */
const GC_HOOK = "import{writeFileSync}from'node:fs';process.on('SIGUSR2',()=>{globalThis.gc?.();" +
  "const file=process.env.WEBKAD_SOAK_MEMORY_FILE;if(file)writeFileSync(file,JSON.stringify({at:Date.now(),...process.memoryUsage()}))})"
const GC_HOOK_IMPORT = `--import=data:text/javascript,${encodeURIComponent(GC_HOOK)}`

/**
 * The real relay CLI (test/harness/relay-process.ts), started with --expose-gc and the SIGUSR2
 * hook through NODE_OPTIONS: the relay's code is unchanged (bench/node/relay-capacity.ts does
 * the same with its own spawn). The environment is changed only while the relay is spawned.
 */
async function startSoakRelay (): Promise<SoakRelay> {
  const memoryDir = await mkdtemp(join(tmpdir(), 'webkad-soak-'))
  const memoryFile = join(memoryDir, 'relay-memory.json')
  const previous = { NODE_OPTIONS: process.env.NODE_OPTIONS, WEBKAD_SOAK_MEMORY_FILE: process.env.WEBKAD_SOAK_MEMORY_FILE }
  process.env.NODE_OPTIONS = [previous.NODE_OPTIONS, '--expose-gc', GC_HOOK_IMPORT].filter(option => option != null && option !== '').join(' ')
  process.env.WEBKAD_SOAK_MEMORY_FILE = memoryFile
  let relay: RelayProcess
  try {
    relay = await startRelayProcess()
  } finally {
    for (const [name, value] of Object.entries(previous)) {
      if (value === undefined) Reflect.deleteProperty(process.env, name)
      else process.env[name] = value
    }
  }
  const pid = await findRelayPid(relay.dataDir)
  const status = async (): Promise<RelayStatus> => {
    const response = await fetch(`http://127.0.0.1:${relay.httpPort}/status`, { signal: AbortSignal.timeout(10_000) })
    if (!response.ok) throw new Error(`relay GET /status: HTTP ${response.status}`)
    return await response.json() as RelayStatus
  }
  const readMemory = async (): Promise<RelayMemory | undefined> => {
    try {
      return JSON.parse(await readFile(memoryFile, 'utf8')) as RelayMemory
    } catch {
      return undefined // not written yet, or caught mid-write
    }
  }
  return {
    process: relay,
    pid,
    status,
    async afterGc () {
      if (pid == null) return { status: await status() }
      const signalledAt = Date.now()
      process.kill(pid, 'SIGUSR2')
      const deadline = signalledAt + 10_000
      let memory = await readMemory()
      while (memory == null || memory.at < signalledAt) {
        if (Date.now() > deadline) throw new Error('the relay did not answer SIGUSR2 with its memory within 10 s')
        await sleep(50)
        memory = await readMemory()
      }
      return { status: await status(), memory }
    },
    async dispose () {
      await relay.dispose()
      await rm(memoryDir, { recursive: true, force: true })
    }
  }
}

/** The relay's pid: the process whose command line runs relay/main.ts with this data directory (Linux /proc). */
async function findRelayPid (dataDir: string): Promise<number | undefined> {
  const entries = await readdir('/proc').catch(() => [] as string[])
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue
    const argv = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).split('\0')
    if (argv.includes('relay/main.ts') && argv.includes(dataDir)) return Number(entry)
  }
  return undefined
}

function median (values: number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle] as number : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
}

function round1 (value: number): number {
  return Math.round(value * 10) / 10
}

async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

/** The figures table printed at the end of a run (Markdown). */
export function formatSoak (result: SoakResult): string {
  const { figures } = result
  const rows: Array<[string, string]> = [
    ['run', `${(result.durationMs / 1000).toFixed(0)} s, pool ${result.options.poolSize} tabs (1 anchor), ${result.options.messagesPerPair} messages each way per pair and round`],
    ['rounds', String(figures.rounds)],
    ['tabs joined / left', `${figures.tabsJoined} / ${figures.tabsLeft}`],
    ['chat messages sent / delivered exactly once, in order, acknowledged', `${figures.chat.sent} / ${figures.chat.delivered - figures.chat.unacknowledged}`],
    ['chat lost / duplicated / out of order', `${figures.chat.lost} / ${figures.chat.duplicated} / ${figures.chat.outOfOrder}`],
    ['puts ok / gets returning the value put', `${figures.dht.putsOk}/${figures.dht.puts} / ${figures.dht.getsOk}/${figures.dht.gets}`],
    ['relay RSS after GC: after fill / after warm-up / peak / end', `${figures.relayRssMB.first} / ${figures.relayRssMB.afterWarmup} / ${figures.relayRssMB.peak} / ${figures.relayRssMB.end} MB`],
    ['relay RSS growth after warm-up (peak without GC)', `${figures.relayRssMB.growth} MB (${figures.relayRssMB.peakWithoutGc} MB)`],
    ['relay V8 heap used after GC: after warm-up / end', `${figures.relayRssMB.heapAfterWarmup} / ${figures.relayRssMB.heapEnd} MB`],
    ['reservation freed after a leave, slowest / stuck', `${figures.reservations.maxFreeMs} ms / ${figures.reservations.stuck}`],
    ['open RTCPeerConnections per tab, max settled / max seen', `${figures.rtc.maxOpenPerTab} / ${figures.rtc.maxOpenSeen}`],
    ['after a leave, all tabs at ≤ 1 open RTCPeerConnection per live peer within (slowest)', `${figures.rtc.maxReleaseMs} ms`],
    ['RTCPeerConnections created: total / most by one tab / anchor tab', `${figures.rtc.createdTotal} / ${figures.rtc.createdMaxPerTab} / ${figures.rtc.anchorCreated} (Chromium: ~500 per tab lifetime)`],
    ['anchor tab: max open RTCPeerConnections', String(figures.rtc.anchorMaxOpen)],
    ['errors escaped from pages', String(figures.escapedErrors)]
  ]
  const lines = [
    '| figure | value |',
    '|---|---|',
    ...rows.map(([name, value]) => `| ${name} | ${value} |`),
    '',
    '| criterion | bound | value | |',
    '|---|---|---|---|',
    ...result.checks.map(check => `| ${check.criterion} | ${check.bound} | ${check.value} | ${check.pass ? 'pass' : 'FAIL'} |`),
    '',
    `soak ${result.passed ? 'PASSED' : 'FAILED'}`
  ]
  if (result.failures.length > 0) lines.push('', 'failures:', ...result.failures.map(failure => `- ${failure}`))
  if (result.escapedErrors.length > 0) lines.push('', 'escaped errors:', ...result.escapedErrors.slice(0, 20).map(error => `- ${error}`))
  return lines.join('\n')
}
