/**
 * Crawls a simulated webkad network (real webkad nodes on the memory transport, built as the
 * simulated-network section builds them) with the crawler a tab runs: how long a crawl of 50 nodes
 * takes, how many FIND_NODE requests it sends, and whether every reconstructed routing table is
 * the node's own. A 10-node network crawled in the same run is the baseline (and carries the
 * issue's goal: crawling 10 nodes takes ≤ 2 s).
 *
 * With WEBKAD_WRITE_SAMPLE_CRAWL=1 the 50-node crawl is also written to docs/crawl-50-simulated.json
 * (the sample the map's Import JSON shows); normal runs leave the repository alone.
 *
 * Run alone: node --import tsx --import ./relay/node20-polyfills.ts bench/node/simulated-crawl.ts [--quick]
 */
import { writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { crawlNetwork } from '../../src/p2p/crawl/crawler.ts'
import { crawlToJson, parseCrawlFile } from '../../src/p2p/crawl/crawl-file.ts'
import { kadInternals } from '../../src/p2p/dht/kad-internals.ts'
import { buildNetwork, stopNodes, TUNED } from './simulated-network.ts'
import type { DhtVariant, SimNode } from './simulated-network.ts'
import { isMainModule, runStandalone } from '../lib/standalone.ts'
import { percentile, ratio, round } from '../lib/stats.ts'
import type { BenchOptions, BenchRow, BenchSection } from '../lib/types.ts'
import type { CrawlHost } from '../../src/p2p/crawl/crawler.ts'
import type { CrawlResult } from '../../src/p2p/crawl/crawl-types.ts'

const SAMPLE_SIZE = 50
const BASELINE_SIZE = 10
/** The issue's goal: crawling 10 nodes takes ≤ 2 s. */
const GOAL_10_NODES_MS = 2000
/** Tables count as settled after this long without a peer:add or peer:remove anywhere... */
const QUIET_MS = 2000
/** ...or after this long in any case (the comparison then shows what still moved). */
const SETTLE_LIMIT_MS = 30_000
const SAMPLE_FILE = fileURLToPath(new URL('../../docs/crawl-50-simulated.json', import.meta.url))

/**
 * What tabs run, with the simulation's knobs (alpha 3, one path, no ping before add, connection
 * monitor off; see simulated-network.ts) but noise encryption, as tabs have: the crawler's own
 * dials are part of the crawl time.
 */
const VARIANT: DhtVariant = { ...TUNED, label: 'webkad tuned, noise', encryption: 'noise' }

interface CrawlRun {
  n: number
  buildMs: number
  /** How long the tables took to go quiet after the build (and whether they did within the limit). */
  settleMs: number
  settled: boolean
  tableMean: number
  elapsedMs: number
  result: CrawlResult
  /** Crawled nodes whose reconstructed table equals their own table at the moment of their last answer (the crawler left out). */
  exactWhenAnswered: number
  /** The same, against their tables after the whole crawl. */
  exactAfterCrawl: number
  /** The crawler's own table as the crawl read it equals its k-buckets at the start. */
  selfExact: boolean
  /** The first few nodes whose table differed, with how. */
  mismatches: string[]
  /** Nodes whose k-buckets held some peer twice at the end, and the repeated entries in all. */
  tablesWithDuplicates: number
  duplicateEntries: number
}

/**
 * A node's own k-buckets as sorted, distinct peer ID strings, without `exclude` (whom kad-dht never
 * tells about itself). Distinct: kad-dht's buckets sometimes hold a peer twice (see duplicatesIn),
 * which no FIND_NODE answer can show.
 */
function ownTable (sim: SimNode, exclude: string): string[] {
  return [...new Set(kadInternals(sim.node.services.dht).routingTablePeers().map(contact => contact.peerId.toString()))].filter(peer => peer !== exclude).sort()
}

/** How many entries of a node's k-buckets repeat a peer already in them. */
function duplicatesIn (sim: SimNode): number {
  const peers = kadInternals(sim.node.services.dht).routingTablePeers().map(contact => contact.peerId.toString())
  return peers.length - new Set(peers).size
}

function sameList (a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((item, index) => item === b[index])
}

/** Resolves once no routing table of `nodes` has changed for `quietMs`, or after `limitMs`; true if they went quiet. */
async function tablesSettled (nodes: readonly SimNode[], quietMs: number, limitMs: number): Promise<boolean> {
  return await new Promise<boolean>(resolve => {
    const tables = nodes.map(sim => kadInternals(sim.node.services.dht).routingTable)
    let quiet: ReturnType<typeof setTimeout> | undefined
    const done = (settled: boolean): void => {
      clearTimeout(quiet)
      clearTimeout(giveUp)
      for (const table of tables) { table.removeEventListener('peer:add', changed); table.removeEventListener('peer:remove', changed) }
      resolve(settled)
    }
    const changed = (): void => { clearTimeout(quiet); quiet = setTimeout(() => { done(true) }, quietMs) }
    const giveUp = setTimeout(() => { done(false) }, limitMs)
    for (const table of tables) { table.addEventListener('peer:add', changed); table.addEventListener('peer:remove', changed) }
    changed()
  })
}

/** Builds an n-node network, waits for its tables to settle, crawls it from its first node, stops it. */
async function crawlSimulated (n: number, log: (text: string) => void): Promise<CrawlRun> {
  const built = await buildNetwork(n, VARIANT, text => { log(`  N=${n}: ${text}`) })
  const { nodes } = built
  try {
    const settleStart = performance.now()
    const settled = await tablesSettled(nodes, QUIET_MS, SETTLE_LIMIT_MS)
    const settleMs = performance.now() - settleStart
    const tableMean = nodes.reduce((sum, sim) => sum + kadInternals(sim.node.services.dht).routingTable.size, 0) / n
    log(`  N=${n}: built in ${round(built.buildMs / 1000)} s, tables ${settled ? 'quiet' : 'still changing'} after ${round(settleMs / 1000)} s more, mean ${round(tableMean)} peers`)

    const crawler = nodes[0] as SimNode
    const self = crawler.peerId.toString()
    const byId = new Map(nodes.map(sim => [sim.peerId.toString(), sim]))
    const kad = kadInternals(crawler.node.services.dht)
    const host: CrawlHost = { node: crawler.node, routingTablePeers: () => kad.routingTablePeers().map(contact => contact.peerId), kBucketSize: kad.routingTable.kBucketSize }
    const selfTableAtStart = ownTable(crawler, '')
    const tableWhenAnswered = new Map<string, string[]>()
    const started = performance.now()
    const result = await crawlNetwork(host, {
      onProgress: event => {
        // Read synchronously when the last answer came: what the reconstruction should equal.
        if (event.name !== 'crawl:crawled') return
        const sim = byId.get(event.peerId)
        if (sim != null) tableWhenAnswered.set(event.peerId, ownTable(sim, self))
      }
    })
    const elapsedMs = performance.now() - started

    let exactWhenAnswered = 0
    let exactAfterCrawl = 0
    const mismatches: string[] = []
    for (const node of result.nodes) {
      if (node.status !== 'crawled') continue
      const sim = byId.get(node.peerId)
      const reconstructed = [...node.routingTable].sort()
      const expected = tableWhenAnswered.get(node.peerId)
      if (expected != null && sameList(reconstructed, expected)) exactWhenAnswered++
      else if (mismatches.length < 3) {
        const missing = expected?.filter(peer => !reconstructed.includes(peer)).length ?? 0
        const extra = expected == null ? reconstructed.length : reconstructed.filter(peer => !expected.includes(peer)).length
        mismatches.push(`node ${sim?.index ?? '?'}: ${missing} missing, ${extra} extra${node.truncated === true ? ', truncated' : ''}`)
      }
      if (sim != null && sameList(reconstructed, ownTable(sim, self))) exactAfterCrawl++
    }
    const duplicates = nodes.map(duplicatesIn)
    const tablesWithDuplicates = duplicates.filter(count => count > 0).length
    const duplicateEntries = duplicates.reduce((sum, count) => sum + count, 0)
    const selfNode = result.nodes.find(node => node.status === 'self')
    const selfExact = selfNode != null && sameList([...selfNode.routingTable].sort(), selfTableAtStart)
    log(`  N=${n}: crawled in ${Math.round(elapsedMs)} ms, ${result.requests} FIND_NODE requests, ${exactWhenAnswered} tables exact`)
    return { n, buildMs: built.buildMs, settleMs, settled, tableMean, elapsedMs, result, exactWhenAnswered, exactAfterCrawl, selfExact, mismatches, tablesWithDuplicates, duplicateEntries }
  } finally {
    await stopNodes(nodes.filter(sim => sim.alive))
  }
}

function countBy (result: CrawlResult, status: string): number {
  return result.nodes.filter(node => node.status === status).length
}

export async function runSimulatedCrawl (options: BenchOptions): Promise<BenchSection> {
  // 50 nodes are cheap: --quick runs the same sizes.
  void options
  const log = (text: string): void => { console.error(text) }
  console.error(`simulated crawl: N=${BASELINE_SIZE}, then N=${SAMPLE_SIZE} (${VARIANT.label})`)
  const baseline = await crawlSimulated(BASELINE_SIZE, log)
  const sample = await crawlSimulated(SAMPLE_SIZE, log)

  const json = crawlToJson(sample.result)
  // The file the map imports must read back: refuse to report (or write) one that does not.
  const parsed = parseCrawlFile(json)
  const jsonKb = round(Buffer.byteLength(json) / 1024)
  const writeSample = process.env.WEBKAD_WRITE_SAMPLE_CRAWL === '1'
  if (writeSample) {
    await writeFile(SAMPLE_FILE, json)
    console.error(`simulated crawl: wrote ${SAMPLE_FILE} (${jsonKb} KB)`)
  }

  const rows: BenchRow[] = []
  const label = `${BASELINE_SIZE} simulated nodes, same run`
  const tag = (run: CrawlRun): string => `crawl ${run.n} simulated nodes`
  const crawledOf = (run: CrawlRun): number => countBy(run.result, 'crawled')
  const perNode = (run: CrawlRun): string => {
    const requests = run.result.nodes.filter(node => node.status === 'crawled').map(node => node.requests)
    return `${percentile(requests, 0.5)} per crawled node p50, max ${Math.max(...requests)}`
  }
  const tableNote = (run: CrawlRun): string => `tables mean ${round(run.tableMean)} of ${run.n - 1} possible peers (k ${run.result.kBucketSize})`
  rows.push({
    metric: `${tag(baseline)}: time`,
    value: Math.round(baseline.elapsedMs),
    unit: 'ms',
    goal: `≤ ${GOAL_10_NODES_MS}`,
    met: baseline.elapsedMs <= GOAL_10_NODES_MS,
    note: `${countBy(baseline.result, 'crawled')}/${baseline.n - 1} crawled, ${baseline.exactWhenAnswered}/${baseline.n - 1} tables reconstructed exactly; ${tableNote(baseline)}`
  })
  rows.push({ metric: `${tag(baseline)}: FIND_NODE requests`, value: baseline.result.requests, unit: 'requests', note: perNode(baseline) })
  rows.push({
    metric: `${tag(sample)}: time`,
    value: Math.round(sample.elapsedMs),
    unit: 'ms',
    baseline: Math.round(baseline.elapsedMs),
    baselineLabel: label,
    ratio: roundedRatio(sample.elapsedMs, baseline.elapsedMs),
    note: `${tableNote(sample)}; memory transport in one process: CPU and dial cost, no network latency`
  })
  rows.push({
    metric: `${tag(sample)}: FIND_NODE requests`,
    value: sample.result.requests,
    unit: 'requests',
    baseline: baseline.result.requests,
    baselineLabel: label,
    ratio: roundedRatio(sample.result.requests, baseline.result.requests),
    note: perNode(sample)
  })
  rows.push({
    metric: `${tag(sample)}: nodes found / crawled`,
    value: `${sample.result.nodes.length} / ${crawledOf(sample)}`,
    unit: 'nodes',
    note: `found includes the crawler (read locally, not crawled); ${countBy(sample.result, 'unreachable')} unreachable, ${countBy(sample.result, 'skipped')} skipped, ${sample.result.nodes.filter(node => node.truncated === true).length} truncated`
  })
  rows.push({
    metric: `${tag(sample)}: tables reconstructed exactly`,
    value: `${sample.exactWhenAnswered}/${sample.n - 1}`,
    unit: 'tables',
    note: `vs each node's own k-buckets (distinct peers) when its last answer came, the crawler left out; ${sample.exactAfterCrawl}/${sample.n - 1} also equal after the whole crawl; the crawler's own table ${sample.selfExact ? 'equals' : 'DIFFERS from'} its k-buckets at the start${sample.mismatches.length > 0 ? `; differing: ${sample.mismatches.join('; ')}` : ''}; ${sample.tablesWithDuplicates} node(s) had a peer twice in their k-buckets (${sample.duplicateEntries} repeated entries; kad-dht's, see the README)`
  })

  const notes = [
    `Networks: ${BASELINE_SIZE} and then ${SAMPLE_SIZE} real webkad nodes (createWebkadNode, as a tab's), built by the simulated-network section's buildNetwork on the memory transport with noise encryption (what tabs run) and that section's DHT knobs: alpha ${VARIANT.alpha}, ${VARIANT.disjointPaths} disjoint path, no ping before adding a contact, connection monitor off, k 20, prefixLength ${VARIANT.prefixLength}. Nodes join 8 at a time, each dialling 3 random joined nodes and running kad-dht's join lookup; then the bench waits until no routing table has had a peer:add or peer:remove for ${QUIET_MS / 1000} s (at most ${SETTLE_LIMIT_MS / 1000} s): N=${baseline.n} ${baseline.settled ? 'settled' : 'NOT settled'} after ${round(baseline.settleMs / 1000)} s, N=${sample.n} ${sample.settled ? 'settled' : 'NOT settled'} after ${round(sample.settleMs / 1000)} s (build ${round(baseline.buildMs / 1000)} s / ${round(sample.buildMs / 1000)} s).`,
    'Crawl: crawlNetwork (src/p2p/crawl/crawler.ts, what session.crawl runs in a tab) from the first node to join, with its defaults (8 peers at once, 16 requests per peer, k peers per answer, 4 s per request), seeded with that node\'s k-buckets. Time is the wall time of crawlNetwork, the crawler\'s dials to the nodes it had no connection to included; in one process on the memory transport that is CPU cost, not network latency — a tab reaches other tabs by WebRTC through a relay, which takes longer per dial.',
    'Exactness: each crawled node\'s reconstructed table (the peers its FIND_NODE answers named) is compared with its own k-buckets (kadInternals().routingTablePeers()) read when its last answer came, without the crawler, whom kad-dht never tells a peer about (the crawler\'s connections add it to the others\' tables during the crawl). The crawler\'s own entry is its table read locally at the start.',
    `Sample file: the ${SAMPLE_SIZE}-node crawl as crawlToJson writes it is ${jsonKb} KB and reads back with parseCrawlFile (${parsed.nodes.length} nodes); ${writeSample ? `written to docs/crawl-50-simulated.json (WEBKAD_WRITE_SAMPLE_CRAWL=1)` : 'written to docs/crawl-50-simulated.json only with WEBKAD_WRITE_SAMPLE_CRAWL=1'}. Every node in it is of kind "other": simulated nodes have /memory addresses, no relay hop protocol and no relayed addresses, so the map draws them all as other peers.`
  ]
  return { title: `Crawl of a simulated webkad network over FIND_NODE (N = ${BASELINE_SIZE}, ${SAMPLE_SIZE})`, rows, notes }
}

function roundedRatio (value: number, baseline: number): number | undefined {
  const result = ratio(value, baseline)
  return result == null ? undefined : round(result)
}

if (isMainModule(import.meta.url)) {
  void runStandalone(runSimulatedCrawl)
}
