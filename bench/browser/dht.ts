/**
 * Section 3: the DHT between browser tabs (issue #11). N tabs on one relay fill their routing
 * tables (the scheduler's auto-dial and self-lookup), then take turns at PutValue, GetValue and
 * FindPeer through window.webkad.session, each timed in the page and counted from its query
 * trace and from counters in the page (RTCDataChannels, libp2p streams: bench/lib/page-counters.ts).
 * Then fresh tabs connect one by one and run a DHT operation the moment they are Online.
 *
 * The same run measures the same thing first with kad-dht's stock streams (a stream per
 * request, as unpatched kad-dht does): tabs opened with `?dhtStreams=fresh` on a relay started
 * with `--dht-streams fresh`. That world is the baseline of every row.
 */
import { cpus, loadavg } from 'node:os'
import { DHT_PROTOCOL } from '../../src/p2p/constants.ts'
import { sleep, withWorld } from '../lib/browser-harness.ts'
import { installPageCounters } from '../lib/page-counters.ts'
import { ratio, round, summarize } from '../lib/stats.ts'
import type { BenchTab, BenchWorld, BrowserBenchOptions, WorldOptions } from '../lib/browser-harness.ts'
import type { CounterDelta, StreamEnds } from '../lib/page-counters.ts'
import type { Summary } from '../lib/stats.ts'
import type { BenchRow, BenchSection } from '../lib/types.ts'

/** Issue #11's goals. */
const GOALS = { put: 45, get: 30, findPeer: 20, firstOperation: 300, p95OverP50: 3 }
const ROUTING_TABLE_TIMEOUT_MS = 30_000
const FLOOR_SAMPLES_PER_TAB = 5
/** Counted Gets per tab that directly follow a Get on the same tab. */
const REPEATED_GETS_PER_TAB = 3
/** The stock recipe's figures with 3 tabs + relay on this machine (../shared/notes/anchors.md). */
const ANCHORS = { put: '40-90', get: '25-70', findPeer: '1-15' }

type StreamMode = 'reuse' | 'fresh'

/** How each world is set up: webkad as shipped, and kad-dht's stock one stream per request. */
const MODES: Record<StreamMode, { label: string, world: Omit<WorldOptions, 'browser'> }> = {
  reuse: { label: 'reused streams (webkad)', world: {} },
  fresh: { label: 'stock streams', world: { tabQuery: 'dhtStreams=fresh', relayArgs: ['--dht-streams', 'fresh'] } }
}

interface OperationSample {
  durationMs: number
  messages: number
  /** What the operating tab opened while the operation ran. */
  counts: CounterDelta
}

interface FindPeerSample extends OperationSample {
  /** True when the tab answered from its own peer store / routing table. */
  local: boolean
}

interface PutSample extends OperationSample {
  /** The read-before-write share of `durationMs` and `messages`. */
  readMs: number
  readMessages: number
  accepted: number
  targets: number
}

interface GetSample extends OperationSample {
  /** When the first request left, from the query trace (ms since the start): local work and stream opening. */
  firstSendMs: number
  /** When the first and the last peer answered, from the query trace (ms since the start). */
  firstReplyMs: number
  lastReplyMs: number
}

/** What a fresh tab runs the moment it is Online. */
type FirstOperation = { kind: 'get', key: string } | { kind: 'find-peer', target: string }

/** A fresh tab's first DHT operation, started the moment its status became Online. */
interface FirstOperationSample {
  ok: boolean
  /** From the call to its end (or failure), ms. */
  durationMs: number
  error?: string
  /** The tab never loaded (not a DHT failure; counted apart). */
  loadFailed?: boolean
  /** Connect → Online, and the share of it after the reservation (waiting for the DHT), from the session's timings, ms. */
  onlineMs: number
  dhtReadyWaitMs: number
  /** kad-dht's routing table at Online. */
  routingTableAtOnline: number
  /** Connections the tab held at Online (the relay's, and any other tab's dial that came in). */
  connectionsAtOnline: number
  /** SEND_QUERY events of the operation's trace. */
  messages: number
  /** FindPeer only: answered from the tab's own peer store. */
  local?: boolean
  counts?: CounterDelta
}

/** Routing-table sizes of every tab, and whether all of them hold `expected` peers. */
async function routingTableSizes (tabs: BenchTab[]): Promise<number[]> {
  return await Promise.all(tabs.map(async tab => await tab.page.evaluate(() => window.webkad?.session.routingTable.getSnapshot().size ?? 0)))
}

/** Waits until every tab's routing table holds every other tab and the relay; returns ms taken. */
async function waitForFullTables (tabs: BenchTab[]): Promise<{ ms: number, sizes: number[] }> {
  const startedAt = Date.now()
  const expected = tabs.length // the other tabs and the relay
  const selfLookup = async (tab: BenchTab): Promise<void> => { await tab.page.evaluate(async () => { await window.webkad?.session.runTaskNow('self-lookup') }) }
  await Promise.all(tabs.map(selfLookup))
  let lastLookupAt = Date.now()
  for (;;) {
    const sizes = await routingTableSizes(tabs)
    if (sizes.every(size => size >= expected)) return { ms: Date.now() - startedAt, sizes }
    if (Date.now() - startedAt > ROUTING_TABLE_TIMEOUT_MS) return { ms: Number.NaN, sizes }
    // Tabs still missing peers look themselves up again every few seconds.
    if (Date.now() - lastLookupAt > 5_000) {
      await Promise.all(tabs.filter((_, index) => (sizes[index] ?? 0) < expected).map(selfLookup))
      lastLookupAt = Date.now()
    }
    await sleep(250)
  }
}

/**
 * Wall time of one libp2p ping (open a stream, 32-byte round trip, close): one RPC's floor.
 * A ping that fails or takes over 5 s is counted in `failed`, not in `times`.
 */
async function rpcFloor (tab: BenchTab, peer: string, samples: number, direct: boolean): Promise<{ times: number[], failed: string[] }> {
  return await tab.page.evaluate(async ({ peer, samples, direct }) => {
    const session = window.webkad?.session
    if (session == null) throw new Error('window.webkad is missing')
    const times: number[] = []
    const failed: string[] = []
    // Ping needs an unlimited connection: a tab is reached over WebRTC, opened here if needed.
    if (direct) await session.dialDirect(peer).catch((err: unknown) => { failed.push(`dial: ${(err as Error).name}`) })
    await session.ping(peer, { timeoutMs: 5_000 }).catch(() => {}) // warm-up, not counted
    for (let index = 0; index < samples; index++) {
      const startedAt = performance.now()
      try {
        await session.ping(peer, { timeoutMs: 5_000 })
        times.push(performance.now() - startedAt)
      } catch (err) {
        failed.push(`${(err as Error).name}: ${(err as Error).message}`)
      }
    }
    return { times, failed }
  }, { peer, samples, direct })
}

declare global {
  interface Window { __webkadLag?: { samples: number[], stop: () => void } }
}

/**
 * How busy a tab's main thread is: every 20 ms a task is posted (MessageChannel, no timer
 * clamping) and the wait until it runs is recorded; an idle thread answers in well under 1 ms.
 */
async function startLagSampler (tab: BenchTab): Promise<void> {
  await tab.page.evaluate(() => {
    const channel = new MessageChannel()
    const samples: number[] = []
    let postedAt = 0
    let timer: ReturnType<typeof setTimeout> | undefined
    channel.port1.onmessage = () => {
      samples.push(performance.now() - postedAt)
      timer = setTimeout(post, 20)
    }
    const post = (): void => {
      postedAt = performance.now()
      channel.port2.postMessage(0)
    }
    post()
    window.__webkadLag = { samples, stop: () => { clearTimeout(timer); channel.port1.close() } }
  })
}

async function stopLagSampler (tab: BenchTab): Promise<number[]> {
  return await tab.page.evaluate(() => {
    window.__webkadLag?.stop()
    return window.__webkadLag?.samples ?? []
  })
}

/** Starts counting the tab's streams (its node exists once it is connected). */
async function watchStreams (tab: BenchTab, relayPeerId: string): Promise<void> {
  await tab.page.evaluate(({ dhtProtocol, relayPeerId }) => {
    const node = window.webkad?.node
    const counters = window.__webkadBenchCounters
    if (node == null || counters == null) throw new Error('tab not connected, or the page counters are not installed')
    counters.watchNode(node, dhtProtocol, relayPeerId)
  }, { dhtProtocol: DHT_PROTOCOL, relayPeerId })
}

async function streamEnds (tab: BenchTab): Promise<StreamEnds> {
  return await tab.page.evaluate(() => window.__webkadBenchCounters?.streamEnds() ?? {})
}

async function put (tab: BenchTab, key: string, text: string): Promise<PutSample> {
  return await tab.page.evaluate(async ({ key, text }) => {
    const session = window.webkad?.session
    const counters = window.__webkadBenchCounters
    if (session == null || counters == null) throw new Error('window.webkad or the page counters are missing')
    const mark = counters.mark()
    const result = await session.put(key, { type: 'text', text })
    const counts = counters.since(mark)
    const traces = session.queries.getSnapshot()
    const store = traces.find(trace => trace.id === result.queryId)
    const read = traces.find(trace => trace.label === `${result.key} (read before Put)`)
    return {
      durationMs: result.durationMs,
      messages: (store?.messagesSent ?? Number.NaN) + (read?.messagesSent ?? Number.NaN),
      counts,
      readMs: read?.durationMs ?? Number.NaN,
      readMessages: read?.messagesSent ?? Number.NaN,
      accepted: result.accepted.length,
      targets: result.accepted.length + result.failed.length
    }
  }, { key, text })
}

async function get (tab: BenchTab, key: string): Promise<GetSample> {
  return await tab.page.evaluate(async (key) => {
    const session = window.webkad?.session
    const counters = window.__webkadBenchCounters
    if (session == null || counters == null) throw new Error('window.webkad or the page counters are missing')
    const mark = counters.mark()
    const result = await session.get(key, { quorum: 0 })
    const counts = counters.since(mark)
    const trace = session.queries.getSnapshot().find(candidate => candidate.id === result.queryId)
    const replies = (trace?.events ?? []).filter(event => event.kind === 'peer-response').map(event => event.at)
    const sends = (trace?.events ?? []).filter(event => event.kind === 'send-query').map(event => event.at)
    return {
      durationMs: result.durationMs,
      messages: trace?.messagesSent ?? Number.NaN,
      counts,
      firstSendMs: sends.length > 0 ? Math.min(...sends) : Number.NaN,
      firstReplyMs: replies.length > 0 ? Math.min(...replies) : Number.NaN,
      lastReplyMs: replies.length > 0 ? Math.max(...replies) : Number.NaN
    }
  }, key)
}

/**
 * FindPeer of a peer the tab does not know: the target is first removed from the tab's
 * routing table and peer store (connections stay open), so the lookup has to ask the network.
 */
async function findUnknownPeer (tab: BenchTab, target: string): Promise<FindPeerSample> {
  return await tab.page.evaluate(async (target) => {
    const session = window.webkad?.session
    const node = window.webkad?.node
    const kad = window.webkad?.kad
    const counters = window.__webkadBenchCounters
    if (session == null || node == null || kad == null || counters == null) throw new Error('tab is not connected, or the page counters are missing')
    const known = (await node.peerStore.all()).find(peer => peer.id.toString() === target)?.id
    if (known != null) {
      await kad.routingTable.remove(known)
      await node.peerStore.delete(known)
    }
    const mark = counters.mark()
    const result = await session.findPeer(target)
    const counts = counters.since(mark)
    return { durationMs: result.durationMs, messages: result.queriesSent, counts, local: result.answeredBy === node.peerId.toString() }
  }, target)
}

/**
 * Opens a tab, clicks Connect (session.connect) and, the moment the status turns Online (in the
 * status listener, as the UI enables its buttons), starts `operation`; times it from its call.
 * The tab is closed afterwards.
 */
async function firstOperationAfterOnline (world: BenchWorld, operation: FirstOperation): Promise<FirstOperationSample> {
  let tab: BenchTab
  try {
    tab = await world.openTab({ connect: false })
  } catch (err) {
    return { ok: false, loadFailed: true, durationMs: Number.NaN, error: `tab did not load: ${(err as Error).message.split('\n')[0] ?? ''}`, onlineMs: Number.NaN, dhtReadyWaitMs: Number.NaN, routingTableAtOnline: Number.NaN, connectionsAtOnline: Number.NaN, messages: Number.NaN }
  }
  try {
    return await tab.page.evaluate(async ({ bootnode, operation, dhtProtocol, relayPeerId }) => {
      const session = window.webkad?.session
      const counters = window.__webkadBenchCounters
      if (session == null || counters == null) throw new Error('window.webkad or the page counters are missing')
      const clickedAt = performance.now()
      return await new Promise<FirstOperationSample>((resolve) => {
        let started = false
        const unsubscribe = session.state.subscribe(() => {
          const state = session.state.getSnapshot()
          if (started || state.status !== 'online') return
          started = true
          unsubscribe()
          const node = window.webkad?.node
          if (node != null) counters.watchNode(node, dhtProtocol, relayPeerId)
          const mark = counters.mark()
          const timings = state.timings as { reservationMs?: number, dhtReadyMs?: number }
          const atOnline = {
            onlineMs: performance.now() - clickedAt,
            dhtReadyWaitMs: (timings.dhtReadyMs ?? Number.NaN) - (timings.reservationMs ?? Number.NaN),
            routingTableAtOnline: window.webkad?.kad?.routingTable.size ?? Number.NaN,
            connectionsAtOnline: node?.getConnections().length ?? Number.NaN
          }
          const startedAt = performance.now()
          const run: Promise<{ queryId: string, local?: boolean }> = operation.kind === 'get'
            ? session.get(operation.key, { quorum: 0 }).then(result => ({ queryId: result.queryId }))
            : session.findPeer(operation.target).then(result => ({ queryId: result.queryId, local: result.answeredBy === node?.peerId.toString() }))
          run.then(
            (result) => {
              const durationMs = performance.now() - startedAt
              const trace = session.queries.getSnapshot().find(candidate => candidate.id === result.queryId)
              resolve({ ok: true, durationMs, ...atOnline, messages: trace?.messagesSent ?? Number.NaN, ...(result.local != null ? { local: result.local } : {}), counts: counters.since(mark) })
            },
            (err: unknown) => { resolve({ ok: false, durationMs: performance.now() - startedAt, error: `${(err as Error).name}: ${(err as Error).message}`, ...atOnline, messages: Number.NaN, counts: counters.since(mark) }) }
          )
        })
        session.connect(bootnode).catch((err: unknown) => {
          if (started) return
          started = true
          unsubscribe()
          resolve({ ok: false, durationMs: Number.NaN, error: `connect: ${(err as Error).name}: ${(err as Error).message}`, onlineMs: Number.NaN, dhtReadyWaitMs: Number.NaN, routingTableAtOnline: Number.NaN, connectionsAtOnline: Number.NaN, messages: Number.NaN })
        })
      })
    }, { bootnode: world.relay.multiaddr, operation, dhtProtocol: DHT_PROTOCOL, relayPeerId: world.relay.peerId })
  } finally {
    await tab.page.close().catch(() => {})
  }
}

/** Everything one world (one stream mode) measured. */
interface WorldMeasurement {
  mode: StreamMode
  tabCount: number
  fill: { ms: number, sizes: number[] }
  puts: PutSample[]
  gets: GetSample[]
  /** Gets that followed a Get on the same tab. */
  repeatedGets: GetSample[]
  finds: FindPeerSample[]
  /** Fresh tabs' first Get (the goal row) and, on other fresh tabs, first FindPeer of a tab. */
  firsts: FirstOperationSample[]
  firstFinds: FirstOperationSample[]
  lag: Summary
  /** How the DHT streams the tabs opened ended, summed over the tabs. */
  ends: StreamEnds
  floors?: { relay: Summary, tab: Summary, failures: string[] }
  loadAverage: [number, number]
  durationMs: number
  pageErrors: string[]
}

interface MeasureOptions {
  tabCount: number
  operations: number
  freshTabs: number
  floors: boolean
}

/** Writer, reader and finder for step `index`: rotating, so no tab answers from its own store. */
function roles (tabs: BenchTab[], index: number): { writer: BenchTab, reader: BenchTab, finder: BenchTab, target: BenchTab } {
  const at = (offset: number): BenchTab => tabs[(index + offset) % tabs.length] as BenchTab
  return { writer: at(0), reader: at(1), finder: at(2), target: at(3) }
}

async function measureWorld (browser: BrowserBenchOptions['browser'], mode: StreamMode, options: MeasureOptions): Promise<WorldMeasurement> {
  const loadBefore = loadavg()[0] as number
  const startedAt = performance.now()
  return await withWorld({ ...MODES[mode].world, ...(browser != null ? { browser } : {}) }, async (world) => {
    await world.context.addInitScript(installPageCounters)
    const tabs = await Promise.all(Array.from({ length: options.tabCount }, async () => await world.openTab()))
    await Promise.all(tabs.map(async tab => { await watchStreams(tab, world.relay.peerId) }))
    const fill = await waitForFullTables(tabs)

    let floors: WorldMeasurement['floors']
    if (options.floors) {
      // One request/response on a new stream, to the relay and to another tab; one at a time.
      const relayTimes: number[] = []
      const tabTimes: number[] = []
      const failures: string[] = []
      for (const [index, tab] of tabs.entries()) {
        const toRelay = await rpcFloor(tab, world.relay.peerId, FLOOR_SAMPLES_PER_TAB, false)
        const toTab = await rpcFloor(tab, (tabs[(index + 1) % tabs.length] as BenchTab).peerId, FLOOR_SAMPLES_PER_TAB, true)
        relayTimes.push(...toRelay.times)
        tabTimes.push(...toTab.times)
        failures.push(...toRelay.failed.map(error => `relay: ${error}`), ...toTab.failed.map(error => `tab: ${error}`))
      }
      floors = { relay: summarize(relayTimes), tab: summarize(tabTimes), failures }
    }

    const runId = `${mode}-${Date.now().toString(36)}`
    const step = async (index: number, record: boolean): Promise<void> => {
      const { writer, reader, finder, target } = roles(tabs, index)
      const key = `bench-${runId}-${record ? '' : 'warm-'}${index}`
      const putSample = await put(writer, key, `value ${index} from ${writer.label}`)
      const getSample = await get(reader, key)
      const findSample = await findUnknownPeer(finder, target.peerId)
      if (!record) return
      puts.push(putSample)
      gets.push(getSample)
      finds.push(findSample)
    }
    const puts: PutSample[] = []
    const gets: GetSample[] = []
    const finds: FindPeerSample[] = []
    // Warm-up, not counted: every tab writes, reads and finds once, so the measured operations
    // run on connections (and, when reused, streams) that are already open.
    for (let index = 0; index < tabs.length; index++) await step(index, false)
    await Promise.all(tabs.map(startLagSampler))
    // One at a time, rotating writer, reader and finder.
    for (let index = 0; index < options.operations; index++) await step(index, true)
    const lag = summarize((await Promise.all(tabs.map(stopLagSampler))).flat())

    // Gets back to back on each tab (the first of each tab not counted): in the rotation above a
    // tab's Get follows its own FindPeer, whose early end aborts the requests still in flight.
    const repeatedGets: GetSample[] = []
    for (let pass = 0; pass <= REPEATED_GETS_PER_TAB; pass++) {
      for (const [index, tab] of tabs.entries()) {
        const sample = await get(tab, `bench-${runId}-${(index + pass) % options.operations}`)
        if (pass > 0) repeatedGets.push(sample)
      }
    }

    // Fresh tabs, one at a time, each closed after its first operation: a Get of a key the
    // network holds.
    const firstKey = `bench-${runId}-0`
    const firsts: FirstOperationSample[] = []
    const firstFinds: FirstOperationSample[] = []
    for (let index = 0; index < options.freshTabs; index++) {
      firsts.push(await firstOperationAfterOnline(world, { kind: 'get', key: firstKey }))
      firstFinds.push(await firstOperationAfterOnline(world, { kind: 'find-peer', target: (tabs[index % tabs.length] as BenchTab).peerId }))
    }

    const ends: StreamEnds = {}
    for (const tabEnds of await Promise.all(tabs.map(streamEnds))) {
      for (const [reason, count] of Object.entries(tabEnds)) ends[reason] = (ends[reason] ?? 0) + count
    }
    return {
      mode,
      tabCount: options.tabCount,
      fill,
      puts,
      gets,
      repeatedGets,
      finds,
      firsts,
      firstFinds,
      lag,
      ends,
      ...(floors != null ? { floors } : {}),
      loadAverage: [loadBefore, loadavg()[0] as number],
      durationMs: performance.now() - startedAt,
      pageErrors: [...world.pageErrors]
    }
  })
}

function p50Text (summary: Summary): string {
  return `${round(summary.p50)} ms (p95 ${round(summary.p95)})`
}

function countText (summary: Summary): string {
  return `p50 ${round(summary.p50)}, max ${round(summary.max)}`
}

/** Mean outbound streams per operation by protocol, DHT excluded: what else the tab opened meanwhile. */
function otherProtocolsText (samples: OperationSample[]): string {
  const totals = new Map<string, number>()
  for (const sample of samples) {
    for (const [protocol, count] of Object.entries(sample.counts.byProtocol)) {
      if (protocol !== DHT_PROTOCOL) totals.set(protocol, (totals.get(protocol) ?? 0) + count)
    }
  }
  if (totals.size === 0 || samples.length === 0) return 'none'
  return [...totals].sort(([, a], [, b]) => b - a).map(([protocol, count]) => `${protocol} ${round(count / samples.length)}`).join(', ')
}

const STOCK = ' (stock streams)'
const STOCK_LABEL = 'stock kad-dht streams, same run'

interface OperationRowsInput {
  name: string
  /** The operation's name in count rows: `data channels opened per warm GetValue p50`. */
  short: string
  goalMs: number
  samples: OperationSample[]
  stock: OperationSample[]
  floor?: { ms: number, label: string }
  /** Whether `data channels opened per warm <short> p50` has the goal 0 (issue #11: GetValue). */
  channelGoal: boolean
  note: string
}

function operationRows (input: OperationRowsInput): BenchRow[] {
  const { name, short, goalMs, samples, stock } = input
  const time = summarize(samples.map(sample => sample.durationMs))
  const stockTime = summarize(stock.map(sample => sample.durationMs))
  const messages = summarize(samples.map(sample => sample.messages))
  const channels = summarize(samples.map(sample => sample.counts.dataChannelsCreated))
  const stockChannels = summarize(stock.map(sample => sample.counts.dataChannelsCreated))
  const dhtChannels = summarize(samples.map(sample => sample.counts.dhtDataChannels))
  const stockDhtChannels = summarize(stock.map(sample => sample.counts.dhtDataChannels))
  const streams = summarize(samples.map(sample => sample.counts.dhtStreams))
  const stockStreams = summarize(stock.map(sample => sample.counts.dhtStreams))
  const openMs = summarize(samples.flatMap(sample => sample.counts.dhtStreamOpenMs))
  const stockOpenMs = summarize(stock.flatMap(sample => sample.counts.dhtStreamOpenMs))
  const p95Limit = GOALS.p95OverP50 * time.p50
  const channelNote = (all: Summary, dht: Summary, of: OperationSample[]): string => `createDataChannel calls in the operating tab while it ran (${countText(all)}); of them for DHT streams: ${countText(dht)}; new RTCPeerConnections meanwhile ${countText(summarize(of.map(sample => sample.counts.peerConnections)))}; other streams it opened, per operation: ${otherProtocolsText(of)}`
  return [
    {
      metric: `${name} p50`,
      value: round(time.p50),
      unit: 'ms',
      baseline: round(stockTime.p50),
      baselineLabel: STOCK_LABEL,
      ratio: round(ratio(time.p50, stockTime.p50) ?? Number.NaN),
      goal: `≤ ${goalMs} ms`,
      met: time.p50 <= goalMs,
      note: `${input.floor != null ? `floor ${round(input.floor.ms)} ms (${input.floor.label}); ` : ''}${input.note}`
    },
    {
      metric: `${name} p95`,
      value: round(time.p95),
      unit: 'ms',
      baseline: round(stockTime.p95),
      baselineLabel: STOCK_LABEL,
      ratio: round(ratio(time.p95, stockTime.p95) ?? Number.NaN),
      goal: `≤ ${GOALS.p95OverP50}× p50 (${round(p95Limit)} ms)`,
      met: time.p95 <= p95Limit,
      note: `n=${time.n}, max ${round(time.max)} ms; p95/p50 ${round(time.p95 / time.p50)}`
    },
    { metric: `${name} messages per operation p50`, value: round(messages.p50), unit: 'msgs', note: `min ${messages.min}, max ${messages.max} (messagesSent of the query trace)` },
    {
      metric: `data channels opened per warm ${short} p50`,
      value: round(channels.p50),
      unit: 'channels',
      baseline: round(stockChannels.p50),
      baselineLabel: STOCK_LABEL,
      ...(input.channelGoal ? { goal: '0', met: channels.p50 === 0 } : {}),
      note: channelNote(channels, dhtChannels, samples)
    },
    {
      metric: `DHT streams opened per warm ${short} p50`,
      value: round(streams.p50),
      unit: 'streams',
      baseline: round(stockStreams.p50),
      baselineLabel: STOCK_LABEL,
      note: `newStream calls for ${DHT_PROTOCOL} in the operating tab (${countText(streams)}; DHT streams it aborted meanwhile ${countText(summarize(samples.map(sample => sample.counts.dhtStreamsAborted)))}); each took ${openMs.n > 0 ? p50Text(openMs) : '—'} to open (stock: ${stockOpenMs.n > 0 ? p50Text(stockOpenMs) : '—'}): data channel or yamux stream, multistream-select round trip, peer-store merge`
    },
    { metric: `${name} p50${STOCK}`, value: round(stockTime.p50), unit: 'ms', note: `baseline, no goal; n=${stockTime.n}` },
    { metric: `${name} p95${STOCK}`, value: round(stockTime.p95), unit: 'ms', note: `baseline, no goal; max ${round(stockTime.max)} ms` },
    { metric: `data channels opened per warm ${short} p50${STOCK}`, value: round(stockChannels.p50), unit: 'channels', note: `baseline; ${channelNote(stockChannels, stockDhtChannels, stock)}` },
    { metric: `DHT streams opened per warm ${short} p50${STOCK}`, value: round(stockStreams.p50), unit: 'streams', note: `baseline; ${countText(stockStreams)}; aborted meanwhile ${countText(summarize(stock.map(sample => sample.counts.dhtStreamsAborted)))}` }
  ]
}

/** Gets right after a Get on the same tab: every peer's stream (when reused) is idle in the pool. */
function repeatedGetRows (samples: GetSample[], stock: GetSample[]): BenchRow[] {
  const time = summarize(samples.map(sample => sample.durationMs))
  const stockTime = summarize(stock.map(sample => sample.durationMs))
  const channels = summarize(samples.map(sample => sample.counts.dataChannelsCreated))
  const stockChannels = summarize(stock.map(sample => sample.counts.dataChannelsCreated))
  const streams = summarize(samples.map(sample => sample.counts.dhtStreams))
  return [
    {
      metric: 'GetValue after a GetValue p50',
      value: round(time.p50),
      unit: 'ms',
      baseline: round(stockTime.p50),
      baselineLabel: STOCK_LABEL,
      ratio: round(ratio(time.p50, stockTime.p50) ?? Number.NaN),
      note: `diagnostic, no goal: ${REPEATED_GETS_PER_TAB} Gets per tab each right after a Get on the same tab (n=${time.n}, p95 ${round(time.p95)} ms; stock p95 ${round(stockTime.p95)} ms); first request sent at ${round(summarize(samples.map(sample => sample.firstSendMs)).p50)} ms (stock ${round(summarize(stock.map(sample => sample.firstSendMs)).p50)} ms), last reply at ${round(summarize(samples.map(sample => sample.lastReplyMs)).p50)} ms (stock ${round(summarize(stock.map(sample => sample.lastReplyMs)).p50)} ms)`
    },
    {
      metric: 'data channels opened per GetValue after a GetValue p50',
      value: round(channels.p50),
      unit: 'channels',
      baseline: round(stockChannels.p50),
      baselineLabel: STOCK_LABEL,
      note: `diagnostic, no goal: createDataChannel calls ${countText(channels)} (stock ${countText(stockChannels)}); DHT streams opened ${countText(streams)} (stock ${countText(summarize(stock.map(sample => sample.counts.dhtStreams)))})`
    }
  ]
}

function describeFirsts (samples: FirstOperationSample[]): string {
  const measured = samples.filter(sample => sample.loadFailed !== true)
  const ok = measured.filter(sample => sample.ok)
  const errors = [...new Set(samples.filter(sample => !sample.ok).map(sample => sample.error ?? '?'))]
  const local = ok.filter(sample => sample.local === true).length
  const counts = (pick: (delta: CounterDelta) => number): string => countText(summarize(ok.map(sample => sample.counts == null ? Number.NaN : pick(sample.counts))))
  return `${ok.length} of ${samples.length} fresh tabs succeeded${errors.length > 0 ? ` (${errors.join('; ')})` : ''}; ${p50Text(summarize(ok.map(sample => sample.durationMs)))}; ` +
    `Connect → Online ${p50Text(summarize(measured.map(sample => sample.onlineMs)))}, of which after the reservation (DHT ready) ${p50Text(summarize(measured.map(sample => sample.dhtReadyWaitMs)))}; ` +
    `at Online: routing table ${countText(summarize(measured.map(sample => sample.routingTableAtOnline)))}, connections ${countText(summarize(measured.map(sample => sample.connectionsAtOnline)))}; ` +
    `messages ${countText(summarize(ok.map(sample => sample.messages)))}, new RTCPeerConnections ${counts(delta => delta.peerConnections)}, DHT streams opened ${counts(delta => delta.dhtStreams)}, data channels ${counts(delta => delta.dataChannelsCreated)}` +
    (local > 0 ? `; ${local} answered from the tab's own peer store` : '')
}

function firstOperationRows (reuse: WorldMeasurement, fresh: WorldMeasurement): BenchRow[] {
  const firsts = reuse.firsts
  const measured = firsts.filter(sample => sample.loadFailed !== true)
  const time = summarize(measured.filter(sample => sample.ok).map(sample => sample.durationMs))
  const stockTime = summarize(fresh.firsts.filter(sample => sample.ok).map(sample => sample.durationMs))
  const failures = measured.filter(sample => !sample.ok).length
  const findTime = summarize(reuse.firstFinds.filter(sample => sample.ok).map(sample => sample.durationMs))
  const stockFindTime = summarize(fresh.firstFinds.filter(sample => sample.ok).map(sample => sample.durationMs))
  const notLoaded = firsts.length - measured.length
  return [
    {
      metric: 'first DHT operation after Online p50',
      value: round(time.p50),
      unit: 'ms',
      baseline: round(stockTime.p50),
      baselineLabel: STOCK_LABEL,
      ratio: round(ratio(time.p50, stockTime.p50) ?? Number.NaN),
      goal: `≤ ${GOALS.firstOperation} ms, 0 failures over ${firsts.length} fresh tabs`,
      met: time.p50 <= GOALS.firstOperation && failures === 0 && notLoaded === 0,
      note: `Get, quorum 0: ${describeFirsts(firsts)}${notLoaded > 0 ? `; ${notLoaded} tab(s) did not load, not measured` : ''}`
    },
    { metric: 'first DHT operation after Online failures', value: failures, unit: `of ${measured.length}`, goal: '0', met: failures === 0 && measured.length > 0 },
    { metric: 'first DHT operation after Online p95', value: round(time.p95), unit: 'ms', note: `max ${round(time.max)} ms` },
    {
      metric: 'first FindPeer after Online p50',
      value: round(findTime.p50),
      unit: 'ms',
      baseline: round(stockFindTime.p50),
      baselineLabel: STOCK_LABEL,
      note: `FindPeer of an existing tab, on other fresh tabs: ${describeFirsts(reuse.firstFinds)}`
    },
    { metric: `first DHT operation after Online p50${STOCK}`, value: round(stockTime.p50), unit: 'ms', note: `baseline, no goal; Get, quorum 0: ${describeFirsts(fresh.firsts)}` },
    { metric: `first FindPeer after Online p50${STOCK}`, value: round(stockFindTime.p50), unit: 'ms', note: `baseline, no goal; ${describeFirsts(fresh.firstFinds)}` }
  ]
}

function endsText (ends: StreamEnds): string {
  const entries = Object.entries(ends).sort(([, a], [, b]) => b - a)
  return entries.length === 0 ? 'none seen' : entries.map(([reason, count]) => `${reason} ${count}`).join(', ')
}

/** Whether the relay's DHT server reset the streams the tabs closed after one reply (stock kad-dht does). */
function relayResets (ends: StreamEnds): { resets: number, closed: number } {
  let resets = 0
  let closed = 0
  for (const [reason, count] of Object.entries(ends)) {
    if (!reason.startsWith('relay:')) continue
    if (reason.includes('StreamResetError')) resets += count
    else closed += count
  }
  return { resets, closed }
}

function worldNote (world: WorldMeasurement): string {
  const put = summarize(world.puts.map(sample => sample.durationMs))
  const read = summarize(world.puts.map(sample => sample.readMs))
  const store = summarize(world.puts.map(sample => sample.durationMs - sample.readMs))
  const gets = world.gets
  return `${MODES[world.mode].label}: ${seconds(world.durationMs)}, load average ${world.loadAverage.map(value => value.toFixed(2)).join(' → ')}; ` +
    `routing tables ${Number.isNaN(world.fill.ms) ? 'NOT filled within 30 s' : `filled in ${round(world.fill.ms / 1000)} s`} (sizes ${world.fill.sizes.join(', ')}); ` +
    `main-thread lag p50 ${round(world.lag.p50)} ms, p95 ${round(world.lag.p95)}, max ${round(world.lag.max)}; ` +
    `Put ${p50Text(put)} = read-before-write ${p50Text(read)} + store ${p50Text(store)}, stored on ${summarize(world.puts.map(sample => sample.accepted)).p50} of ${summarize(world.puts.map(sample => sample.targets)).p50}; ` +
    `Get: first request sent at ${round(summarize(gets.map(sample => sample.firstSendMs)).p50)} ms, first reply at ${round(summarize(gets.map(sample => sample.firstReplyMs)).p50)} ms, last at ${round(summarize(gets.map(sample => sample.lastReplyMs)).p50)} ms (p50, from the trace); ` +
    `FindPeer: ${world.finds.filter(sample => sample.local).length} of ${world.finds.length} answered locally; ` +
    `DHT streams the tabs opened ended: ${endsText(world.ends)}`
}

function seconds (ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`
}

export async function runBrowserDht (options: BrowserBenchOptions): Promise<BenchSection> {
  const measure: MeasureOptions = {
    tabCount: options.quick ? 4 : 8,
    operations: options.quick ? 12 : 30,
    freshTabs: options.quick ? 10 : 20,
    floors: true
  }
  // The stock baseline first, then webkad, each in a world of its own (never both at once: they
  // would share the 2 cores). Stock first so that what our own first world leaves behind (load,
  // a warmer browser) does not favour the stock figures.
  const fresh = await measureWorld(options.browser, 'fresh', { ...measure, floors: false })
  const reuse = await measureWorld(options.browser, 'reuse', measure)

  const floors = reuse.floors
  const floorMs = floors == null ? Number.NaN : Math.max(floors.relay.p50, floors.tab.p50)
  const floorLabel = floors == null ? '' : `libp2p ping on a new stream, same run: relay ${round(floors.relay.p50)} ms, tab ${round(floors.tab.p50)} ms`
  const localFinds = reuse.finds.filter(sample => sample.local).length
  const freshRelay = relayResets(fresh.ends)
  const reuseRelay = relayResets(reuse.ends)
  const rows: BenchRow[] = [
    {
      metric: 'routing tables filled',
      value: Number.isNaN(reuse.fill.ms) ? 'not within 30 s' : round(reuse.fill.ms / 1000),
      unit: Number.isNaN(reuse.fill.ms) ? '' : 's',
      note: `after all ${reuse.tabCount} tabs were online and ran a self-lookup; sizes ${reuse.fill.sizes.join(', ')} (full = ${reuse.tabCount}: the other tabs and the relay); stock world: ${Number.isNaN(fresh.fill.ms) ? 'not within 30 s' : `${round(fresh.fill.ms / 1000)} s`}`
    },
    ...operationRows({
      name: 'GetValue', short: 'GetValue', goalMs: GOALS.get, samples: reuse.gets, stock: fresh.gets, channelGoal: true,
      floor: { ms: floorMs, label: `1 RPC round: ${floorLabel}` },
      note: `stock recipe ${ANCHORS.get} ms (anchor); whole lookup (quorum 0, as kad-dht) incl. validating every record`
    }),
    ...operationRows({
      name: 'PutValue', short: 'PutValue', goalMs: GOALS.put, samples: reuse.puts, stock: fresh.puts, channelGoal: false,
      floor: { ms: 2 * floorMs, label: `2 RPC rounds (the read's lookup, then PUT_VALUE to the closest peers): ${floorLabel}` },
      note: `stock recipe ${ANCHORS.put} ms (anchor); includes the read of the current sequence number`
    }),
    ...operationRows({
      name: 'FindPeer (peer not known locally)', short: 'FindPeer', goalMs: GOALS.findPeer, samples: reuse.finds, stock: fresh.finds, channelGoal: false,
      floor: { ms: floorMs, label: `1 RPC round: ${floorLabel}` },
      note: `stock recipe ${ANCHORS.findPeer} ms (anchor); ${localFinds === 0 ? `all ${reuse.finds.length} answered by a remote peer` : `${localFinds} of ${reuse.finds.length} still answered locally`} (target removed from the finder's routing table and peer store first)`
    }),
    ...repeatedGetRows(reuse.repeatedGets, fresh.repeatedGets),
    ...firstOperationRows(reuse, fresh)
  ]

  const relayModeNote = freshRelay.resets > 0
    ? `The stock world's relay ran kad-dht's stock server: it reset ${freshRelay.resets} of the ${freshRelay.resets + freshRelay.closed} DHT streams the tabs ended after one reply (webkad's relay reset ${reuseRelay.resets}).`
    : `CHECK: the stock world's relay reset none of the DHT streams the tabs ended after one reply (${freshRelay.closed} closed), so it did not run kad-dht's stock server: test/harness/relay-process.ts does not pass RelayProcessOptions.args (--dht-streams fresh) yet. Its tabs did use a stream per request (the client side, which is what the figures compare); the relay's server only differs in closing vs resetting each stream after it.`
  return {
    title: `DHT in browsers: ${measure.tabCount} tabs on one relay, ${measure.operations} operations each, reused streams vs stock streams; ${measure.freshTabs} fresh tabs per mode`,
    rows,
    notes: [
      `Two worlds, one after the other, each its own relay and ${measure.tabCount} tabs with the default app configuration (scheduler on: auto-dial, self-lookup, random walk): first the baseline "${MODES.fresh.label}": tabs with ?${MODES.fresh.world.tabQuery ?? ''} and the relay with ${(MODES.fresh.world.relayArgs ?? []).join(' ')} (kad-dht's reuseStreams: false, a stream per request and a reset at its end, as unpatched kad-dht), then webkad as shipped (kad-dht patched to reuse DHT streams per peer). Each waits (up to ${ROUTING_TABLE_TIMEOUT_MS / 1000} s) until every routing table holds all ${measure.tabCount} other nodes, so lookups are one hop (k=20 exceeds the network) and every node holds every record.`,
      `Operations run one at a time through window.webkad.session, timed in the page (the session's own durationMs): Put by tab i (includes webkad's read of the current sequence number before writing), Get of that key by tab i+1 (quorum 0, the whole lookup: the reader holds a copy itself since every tab is among the k closest, so quorum 1 would answer locally in ~1 ms), FindPeer of tab i+3 by tab i+2. "Warm": every tab first wrote, read and found once, not counted, so connections (and reused streams, kept 5 s when idle) are open. Messages = messagesSent of the query trace (SEND_QUERY events; Put counts its read and its store).`,
      `Counted in the operating tab while each operation ran (bench/lib/page-counters.ts, installed before the app loads): createDataChannel calls (a subclass of RTCPeerConnection) and newStream calls for ${DHT_PROTOCOL} (each connection's newStream wrapped). Over WebRTC every new stream is a new RTCDataChannel; to the relay it is a yamux stream.`,
      `First DHT operation after Online: ${measure.freshTabs} fresh tabs per world${options.quick ? ' (quick run; the full run opens 20)' : ''}, opened one at a time and closed after: each clicks Connect (session.connect) and, in the status listener the moment the status turns Online, starts a Get (quorum 0, the Get button's default: a whole lookup, so it needs every peer it asks) of a key the network holds, timed from the call; a Get that throws is a failure. As many other fresh tabs, interleaved, start a FindPeer of an existing tab instead (row "first FindPeer after Online"): the first self-query, which Online now waits for, usually leaves that tab's addresses in the peer store, so FindPeer answers locally and is no test of readiness.`,
      'Where the counts come from (stack traces of createDataChannel, one debugging run): the data channel a warm FindPeer opens is kad-dht pinging the target (pingContact) when it re-enters the routing table the bench removed it from, not a DHT request; a warm Get that follows its tab\'s FindPeer reopens the streams that FindPeer aborted when it ended at its first answer (the pool drops a stream whose request was given up: its late reply must not answer the next request). "GetValue after a GetValue" shows a Get whose streams are all idle in the pool.',
      `CPU: ${measure.tabCount} renderers, the browser, the relay and whatever else runs share ${cpus().length} cores; the main-thread lag is the wait of a task posted in each tab every 20 ms (MessageChannel) while the operations ran (well under 1 ms when idle).`,
      worldNote(fresh),
      worldNote(reuse),
      relayModeNote,
      ...(floors != null ? [`Floor: a libp2p ping timed around the whole call (open a stream, 32-byte round trip, close), ${FLOOR_SAMPLES_PER_TAB} per tab: relay ${p50Text(floors.relay)}, tab over WebRTC ${p50Text(floors.tab)}. The operation rows' floors use the slower of the two.`] : []),
      ...(floors != null && floors.failures.length > 0 ? [`${floors.failures.length} floor ping(s) failed and are not counted: ${[...new Set(floors.failures)].join('; ')}`] : []),
      ...[...reuse.pageErrors, ...fresh.pageErrors].map(error => `page error: ${error}`)
    ]
  }
}
