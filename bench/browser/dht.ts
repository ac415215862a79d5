/**
 * Section 3: the DHT between browser tabs. N tabs on one relay fill their routing tables (the
 * scheduler's auto-dial and self-lookup), then take turns at PutValue, GetValue and FindPeer
 * through window.webkad.session, each timed in the page and counted from its query trace.
 */
import { cpus } from 'node:os'
import { sleep, withWorld } from '../lib/browser-harness.ts'
import { ratio, round, summarize } from '../lib/stats.ts'
import type { BenchTab, BrowserBenchOptions } from '../lib/browser-harness.ts'
import type { Summary } from '../lib/stats.ts'
import type { BenchRow, BenchSection } from '../lib/types.ts'

const GOAL_P50_MS = 50
const ROUTING_TABLE_TIMEOUT_MS = 30_000
const FLOOR_SAMPLES_PER_TAB = 5
/** The stock recipe's figures with 3 tabs + relay on this machine (../shared/notes/anchors.md). */
const ANCHORS = { put: '40-90', get: '25-70', findPeer: '1-15' }

interface OperationSample {
  durationMs: number
  messages: number
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

async function put (tab: BenchTab, key: string, text: string): Promise<PutSample> {
  return await tab.page.evaluate(async ({ key, text }) => {
    const session = window.webkad?.session
    if (session == null) throw new Error('window.webkad is missing')
    const result = await session.put(key, { type: 'text', text })
    const traces = session.queries.getSnapshot()
    const store = traces.find(trace => trace.id === result.queryId)
    const read = traces.find(trace => trace.label === `${result.key} (read before Put)`)
    return {
      durationMs: result.durationMs,
      messages: (store?.messagesSent ?? Number.NaN) + (read?.messagesSent ?? Number.NaN),
      readMs: read?.durationMs ?? Number.NaN,
      readMessages: read?.messagesSent ?? Number.NaN,
      accepted: result.accepted.length,
      targets: result.accepted.length + result.failed.length
    }
  }, { key, text })
}

interface GetSample extends OperationSample {
  /** When the first request left, from the query trace (ms since the start): local work and stream opening. */
  firstSendMs: number
  /** When the first and the last peer answered, from the query trace (ms since the start). */
  firstReplyMs: number
  lastReplyMs: number
}

async function get (tab: BenchTab, key: string): Promise<GetSample> {
  return await tab.page.evaluate(async (key) => {
    const session = window.webkad?.session
    if (session == null) throw new Error('window.webkad is missing')
    const result = await session.get(key, { quorum: 0 })
    const trace = session.queries.getSnapshot().find(candidate => candidate.id === result.queryId)
    const replies = (trace?.events ?? []).filter(event => event.kind === 'peer-response').map(event => event.at)
    const sends = (trace?.events ?? []).filter(event => event.kind === 'send-query').map(event => event.at)
    return {
      durationMs: result.durationMs,
      messages: trace?.messagesSent ?? Number.NaN,
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
    if (session == null || node == null || kad == null) throw new Error('tab is not connected')
    const known = (await node.peerStore.all()).find(peer => peer.id.toString() === target)?.id
    if (known != null) {
      await kad.routingTable.remove(known)
      await node.peerStore.delete(known)
    }
    const result = await session.findPeer(target)
    return { durationMs: result.durationMs, messages: result.queriesSent, local: result.answeredBy === node.peerId.toString() }
  }, target)
}

function operationRows (name: string, samples: OperationSample[], floor: { ms: number, label: string }, anchor: string, note?: string): BenchRow[] {
  const time = summarize(samples.map(sample => sample.durationMs))
  const messages = summarize(samples.map(sample => sample.messages))
  return [
    {
      metric: `${name} p50`,
      value: round(time.p50),
      unit: 'ms',
      baseline: round(floor.ms),
      baselineLabel: floor.label,
      ratio: round(ratio(time.p50, floor.ms) ?? Number.NaN),
      goal: `≤ ${GOAL_P50_MS} ms`,
      met: time.p50 <= GOAL_P50_MS,
      note: `stock recipe ${anchor} ms (anchor)${note != null ? `; ${note}` : ''}`
    },
    { metric: `${name} p95`, value: round(time.p95), unit: 'ms', note: `n=${time.n}, max ${round(time.max)} ms` },
    { metric: `${name} messages per operation p50`, value: round(messages.p50), unit: 'msgs', note: `min ${messages.min}, max ${messages.max} (messagesSent of the query trace)` }
  ]
}

function p50Text (summary: Summary): string {
  return `${round(summary.p50)} ms (p95 ${round(summary.p95)})`
}

export async function runBrowserDht (options: BrowserBenchOptions): Promise<BenchSection> {
  const tabCount = options.quick ? 4 : 8
  const operations = options.quick ? 12 : 30
  return await withWorld(options, async (world) => {
    const tabs = await Promise.all(Array.from({ length: tabCount }, async () => await world.openTab()))
    const fill = await waitForFullTables(tabs)

    // Floors: one request/response on a new stream, to the relay and to another tab.
    // One at a time, like the operations below.
    const relayTimes: number[] = []
    const tabTimes: number[] = []
    const floorFailures: string[] = []
    for (const [index, tab] of tabs.entries()) {
      const toRelay = await rpcFloor(tab, world.relay.peerId, FLOOR_SAMPLES_PER_TAB, false)
      const toTab = await rpcFloor(tab, (tabs[(index + 1) % tabs.length] as BenchTab).peerId, FLOOR_SAMPLES_PER_TAB, true)
      relayTimes.push(...toRelay.times)
      tabTimes.push(...toTab.times)
      floorFailures.push(...toRelay.failed.map(error => `relay: ${error}`), ...toTab.failed.map(error => `tab: ${error}`))
    }
    const relayFloor = summarize(relayTimes)
    const tabFloor = summarize(tabTimes)
    const floorMs = Math.max(relayFloor.p50, tabFloor.p50)

    await Promise.all(tabs.map(startLagSampler))
    const runId = Date.now().toString(36)
    const puts: PutSample[] = []
    const gets: GetSample[] = []
    const finds: FindPeerSample[] = []
    // One at a time, rotating writer, reader and finder so no tab answers from its own store.
    for (let index = 0; index < operations; index++) {
      const key = `bench-${runId}-${index}`
      const writer = tabs[index % tabCount] as BenchTab
      const reader = tabs[(index + 1) % tabCount] as BenchTab
      const finder = tabs[(index + 2) % tabCount] as BenchTab
      const target = tabs[(index + 3) % tabCount] as BenchTab
      puts.push(await put(writer, key, `value ${index} from ${writer.label}`))
      gets.push(await get(reader, key))
      finds.push(await findUnknownPeer(finder, target.peerId))
    }

    const lag = summarize((await Promise.all(tabs.map(stopLagSampler))).flat())

    const localFinds = finds.filter(sample => sample.local).length
    const putSummary = summarize(puts.map(sample => sample.durationMs))
    const readSummary = summarize(puts.map(sample => sample.readMs))
    const storeSummary = summarize(puts.map(sample => sample.durationMs - sample.readMs))
    const floorLabel = `one RPC on a new stream, same run (libp2p ping p50: relay ${round(relayFloor.p50)} ms, tab ${round(tabFloor.p50)} ms)`
    const rows: BenchRow[] = [
      {
        metric: 'routing tables filled',
        value: Number.isNaN(fill.ms) ? 'not within 30 s' : round(fill.ms / 1000),
        unit: Number.isNaN(fill.ms) ? '' : 's',
        note: `after all ${tabCount} tabs were online and ran a self-lookup; sizes ${fill.sizes.join(', ')} (full = ${tabCount}: the other tabs and the relay)`
      },
      ...operationRows('PutValue', puts, { ms: 2 * floorMs, label: `2 RPC rounds (the read's lookup, then PUT_VALUE to the closest peers it reached): ${floorLabel}` }, ANCHORS.put,
        `read-before-write ${p50Text(readSummary)}, store ${p50Text(storeSummary)}; stored on ${summarize(puts.map(sample => sample.accepted)).p50} of ${summarize(puts.map(sample => sample.targets)).p50} closest peers (p50)`),
      ...operationRows('GetValue', gets, { ms: floorMs, label: `1 RPC round: ${floorLabel}` }, ANCHORS.get,
        `whole lookup (quorum 0, as kad-dht) incl. validating every record and correcting/caching; first request sent at ${round(summarize(gets.map(sample => sample.firstSendMs)).p50)} ms, first reply at ${round(summarize(gets.map(sample => sample.firstReplyMs)).p50)} ms, last at ${round(summarize(gets.map(sample => sample.lastReplyMs)).p50)} ms (p50, from the trace)`),
      ...operationRows('FindPeer (peer not known locally)', finds, { ms: floorMs, label: `1 RPC round: ${floorLabel}` }, ANCHORS.findPeer,
        localFinds === 0
          ? `all ${finds.length} answered by a remote peer (target removed from the finder's routing table and peer store first)`
          : `${localFinds} of ${finds.length} still answered locally`),
      { metric: 'reference: stock recipe PutValue', value: ANCHORS.put, unit: 'ms', note: 'recorded anchor, 3 tabs + relay, not this run' },
      { metric: 'reference: stock recipe GetValue', value: ANCHORS.get, unit: 'ms', note: 'recorded anchor, 3 tabs + relay, not this run' },
      { metric: 'reference: stock recipe FindPeer', value: ANCHORS.findPeer, unit: 'ms', note: 'recorded anchor (a peer already known answers locally), not this run' }
    ]
    return {
      title: `DHT in browsers: ${tabCount} tabs on one relay, ${operations} operations each`,
      rows,
      notes: [
        `${tabCount} tabs with the default app configuration (scheduler on: auto-dial, self-lookup, random walk) connected to one relay; the section waits (up to ${ROUTING_TABLE_TIMEOUT_MS / 1000} s) until every routing table holds all ${tabCount} other nodes, so lookups are one hop (k=20 exceeds the network) and every node holds every record.`,
        `CPU: ${tabCount} renderers, the browser, the relay and whatever else runs share ${cpus().length} cores; while the operations ran, a task posted in a tab every 20 ms (MessageChannel) waited p50 ${round(lag.p50)} ms, p95 ${round(lag.p95)} ms, max ${round(lag.max)} ms for its main thread (well under 1 ms when idle).`,
        `Operations run one at a time through window.webkad.session, timed in the page (the session's own durationMs): Put by tab i (includes webkad's read of the current sequence number before writing), Get of that key by tab i+1 (quorum 0, the whole lookup: the reader holds a copy itself since every tab is among the k closest, so quorum 1 would answer locally in ~1 ms), FindPeer of tab i+3 by tab i+2. Messages = messagesSent of the query trace (SEND_QUERY events; Put counts its read and its store).`,
        `Floor: a libp2p ping timed around the whole call (open a stream, 32-byte round trip, close), ${FLOOR_SAMPLES_PER_TAB} per tab: relay ${p50Text(relayFloor)}, tab over WebRTC ${p50Text(tabFloor)}. A DHT RPC costs at least that; the operation baselines use the slower of the two.`,
        `Put p50 ${p50Text(putSummary)}.`,
        ...(floorFailures.length > 0 ? [`${floorFailures.length} floor ping(s) failed and are not counted: ${[...new Set(floorFailures)].join('; ')}`] : []),
        ...world.pageErrors.map(error => `page error: ${error}`)
      ]
    }
  })
}
