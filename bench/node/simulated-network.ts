/**
 * N real webkad nodes in one Node process, over the in-memory transport: hops per lookup, recall
 * of the true k closest, Put/Get under churn, memory per node. The webkad variant is built by
 * createWebkadNode (what a tab runs, with the transport and the knobs below); the library-defaults
 * baseline by createStockNode (bench/node/stock-node.ts).
 *
 * Run alone: node --import tsx --import ./relay/node20-polyfills.ts bench/node/simulated-network.ts [--quick]
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { memory } from '@libp2p/memory'
import { noise } from '@libp2p/noise'
import { plaintext } from '@libp2p/plaintext'
import { MemoryDatastore } from 'datastore-core'
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { fromString } from 'uint8arrays'
import { equals } from 'uint8arrays/equals'
import { kadInternals } from '../../src/p2p/dht/kad-internals.ts'
import { forgetDisconnectedPeers } from '../../src/p2p/dht/routing-table-view.ts'
import { compareDistances, kadIdOfKey, kadIdOfPeer, xorDistance } from '../../src/p2p/dht/kad-math.ts'
import { DhtOperations } from '../../src/p2p/dht/dht-operations.ts'
import { RecordHolding } from '../../src/p2p/dht/record-holding.ts'
import { createSignedRecord } from '../../src/p2p/dht/records.ts'
import { createWebkadNode } from '../../src/p2p/node.ts'
import type { WebkadNode } from '../../src/p2p/node.ts'
import { createStockNode, LIBRARY_DEFAULTS } from './stock-node.ts'
import type { StockNode } from './stock-node.ts'
import { collectGarbage, mapWithConcurrency, megabytes, pickOne, sample, sleep, watchEventLoop } from '../lib/node-runtime.ts'
import type { LoopDelay } from '../lib/node-runtime.ts'
import { isMainModule, runStandalone } from '../lib/standalone.ts'
import { replacementChurnPlan, replacementChurnRows, simulateReplacementChurn } from './replacement-churn.ts'
import type { ReplacementChurnPlan, ReplacementChurnResult } from './replacement-churn.ts'
import { percentile, ratio, round } from '../lib/stats.ts'
import type { BenchOptions, BenchRow, BenchSection } from '../lib/types.ts'
import type { QueryEvent } from '@libp2p/kad-dht'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

const K = 20
/** Library values the tuned settings are compared with (@libp2p/kad-dht 16.4.5 constants). */
export const DIALS_PER_JOIN = 3
const JOIN_CONCURRENCY = 8
const LOOKUP_TIMEOUT_MS = 60_000
/** The initial self-query times out after 5 s in kad-dht; wait a little longer for its event. */
export const SELF_QUERY_WAIT_MS = 7_000

/** A webkad node, or a library-defaults one: both have identify, ping and the DHT. */
type SimLibp2p = WebkadNode | StockNode

/** DHT settings of one simulated network. */
export interface DhtVariant {
  label: string
  /**
   * `webkad`: createWebkadNode with the knobs below. `stock`: createStockNode, library defaults
   * (the knobs below must then be the defaults: they only describe what the node runs).
   */
  node: 'webkad' | 'stock'
  alpha: number
  disjointPaths: number
  /** Routing-table trie depth: the table holds at most 2^prefixLength × k peers. */
  prefixLength: number
  /** Add peers to the routing table without pinging them first (kadInternals().skipPingBeforeAdd). */
  skipPingBeforeAdd: boolean
  /** Connection encryption: plaintext halves the CPU of a connection; noise is what tabs run. */
  encryption: 'plaintext' | 'noise'
  /** Open connections per node before libp2p prunes (browser default 100, Node default 300). */
  maxConnections: number
  /** The connection monitor (webkad's pings every connection every 3 s, libp2p's default every 10 s). */
  connectionMonitor: boolean
  /** Start the join lookup (self-query) as soon as a peer is known instead of 1 s after start. */
  immediateJoinLookup: boolean
}

/** webkad's settings for large simulations: what the shared notes found to scale on 2 cores. */
export const TUNED: DhtVariant = {
  label: 'webkad tuned',
  node: 'webkad',
  alpha: 3,
  disjointPaths: 1,
  prefixLength: 6,
  skipPingBeforeAdd: true,
  encryption: 'plaintext',
  maxConnections: 100,
  connectionMonitor: false,
  immediateJoinLookup: true
}

/**
 * The library's DHT behaviour (alpha 10, 10 disjoint paths, ping before add, connection monitor
 * on, Node's 300 connections), with the same transport and encryption as TUNED so the
 * difference is the DHT and connection settings (and the services webkad adds, see createSimNode).
 * Too slow beyond a few hundred nodes here.
 */
export const LIBRARY_DEFAULTS_VARIANT: DhtVariant = {
  label: 'library defaults',
  node: 'stock',
  alpha: LIBRARY_DEFAULTS.alpha,
  disjointPaths: LIBRARY_DEFAULTS.disjointPaths,
  prefixLength: LIBRARY_DEFAULTS.prefixLength,
  skipPingBeforeAdd: false,
  encryption: 'plaintext',
  maxConnections: LIBRARY_DEFAULTS.maxConnections,
  connectionMonitor: LIBRARY_DEFAULTS.connectionMonitor,
  immediateJoinLookup: false
}

/** The simulation's clock for record layers: replacement churn moves it one replication interval per round. */
export const SIM_CLOCK = {
  offsetMs: 0,
  now (): number { return Date.now() + this.offsetMs }
}

export interface SimNode {
  index: number
  node: SimLibp2p
  /** webkad nodes: the record layer their datastore goes through, and webkad's DHT operations. */
  holding?: RecordHolding
  dht?: DhtOperations
  peerId: PeerId
  privateKey: PrivateKey
  kadId: Uint8Array
  address: Multiaddr
  alive: boolean
}

export interface LookupSample {
  /** Depth of the closest final peer: 1 = it was in the querier's own table. */
  hops: number
  /** Largest depth among the final k peers. */
  kSetDepth: number
  recall: number
  messages: number
  durationMs: number
  failed: boolean
}

export interface NetworkResult {
  n: number
  variant: DhtVariant
  buildMs: number
  /** CPU time (user + system) the build took: less sensitive than wall time to other load. */
  buildCpuMs: number
  settleMs: number
  selfQueryTimeouts: number
  failedDials: number
  rssPerNodeBytes: number
  heapPerNodeBytes: number
  tableSize: { mean: number, min: number, max: number }
  lookups: LookupSample[]
  put: { stored: number, attempted: number, replicasMean: number }
  getsBefore: { ok: number, total: number }
  churn: Array<{ stoppedShare: number, getsOk: number, getsTotal: number, recall?: number }>
  loop: { build: LoopDelay, lookups: LoopDelay, churn: LoopDelay }
  /** CPU time / wall time of the whole run: near 1 means one core was saturated. */
  cpuShare: number
  gcAvailable: boolean
  durationMs: number
}

let networkCounter = 0

export async function createSimNode (network: number, index: number, variant: DhtVariant): Promise<SimNode> {
  const privateKey = await generateKeyPair('Ed25519')
  const listen = `/memory/webkad-bench-${network}-${index}`
  const encrypter = variant.encryption === 'noise' ? noise() : plaintext()
  let node: SimLibp2p
  let holding: RecordHolding | undefined
  let dht: DhtOperations | undefined
  if (variant.node === 'stock') {
    checkLibraryDefaults(variant)
    node = await createStockNode({ privateKey, listen, connectionEncrypters: [encrypter], start: false })
  } else {
    // What a tab runs (createWebkadNode: identify, identifyPush with a 50 ms debounce, ping with
    // 4 streams each way, webkad's DHT, the chat service, the record layer over its datastore), on the
    // memory transport with the variant's encryption. identifyPush and chat were not in this
    // simulation before createWebkadNode: chat only registers its protocol and two event
    // listeners until a message is sent (none is here); identifyPush pushes to connected peers
    // when this node's addresses or protocols change, which here is only around start.
    const webkadNode = await createWebkadNode({
      privateKey,
      start: false,
      transports: [memory()],
      listen: [listen],
      datastore: (holding = new RecordHolding(new MemoryDatastore(), { self: peerIdFromPrivateKey(privateKey), now: () => SIM_CLOCK.now() })).datastore,
      connectionEncrypters: [encrypter],
      // TUNED: what a tab gets — libp2p's browser build caps connections at 100.
      connectionManager: { maxConnections: variant.maxConnections },
      // TUNED turns it off: it pings every connection every 3 s, thousands of pings per second here.
      connectionMonitor: variant.connectionMonitor,
      dht: {
        alpha: variant.alpha,
        disjointPaths: variant.disjointPaths,
        prefixLength: variant.prefixLength,
        kBucketSize: K,
        // The join lookup starts as soon as the first peer is in the table instead of 1 s after
        // start: the same lookup, minus a second of idle time per join.
        ...(variant.immediateJoinLookup ? { initialQuerySelfInterval: 0 } : {})
      }
    })
    // kad-dht pings every new contact before adding it to a bucket; in a one-process simulation
    // those pings (one connection each) dominate the build.
    if (variant.skipPingBeforeAdd) kadInternals(webkadNode.services.dht).skipPingBeforeAdd()
    holding.attach(kadInternals(webkadNode.services.dht), () => webkadNode.getPeers())
    // As in a tab (live-node.ts): a stopped node leaves the others' k-buckets when its connections close.
    forgetDisconnectedPeers(webkadNode, kadInternals(webkadNode.services.dht))
    dht = new DhtOperations(webkadNode, privateKey)
    node = webkadNode
  }
  return {
    index,
    node,
    holding,
    dht,
    peerId: node.peerId,
    privateKey,
    kadId: kadIdOfPeer(node.peerId),
    address: undefined as unknown as Multiaddr,
    alive: false
  }
}

/** The stock node leaves every knob to the libraries: a variant that says otherwise would lie. */
function checkLibraryDefaults (variant: DhtVariant): void {
  const differs = variant.alpha !== LIBRARY_DEFAULTS.alpha ||
    variant.disjointPaths !== LIBRARY_DEFAULTS.disjointPaths ||
    variant.prefixLength !== LIBRARY_DEFAULTS.prefixLength ||
    variant.maxConnections !== LIBRARY_DEFAULTS.maxConnections ||
    variant.connectionMonitor !== LIBRARY_DEFAULTS.connectionMonitor ||
    variant.skipPingBeforeAdd || variant.immediateJoinLookup || K !== LIBRARY_DEFAULTS.kBucketSize
  if (differs) throw new Error(`variant "${variant.label}" is built by createStockNode, which takes library defaults only`)
}

/** Resolves true when kad-dht reports its self-query finished, false after `timeoutMs`. */
export async function waitForSelfQuery (node: SimLibp2p, timeoutMs: number): Promise<boolean> {
  // kad-dht dispatches 'kad-dht:query:self' on the node's event bus, but it is not in libp2p's
  // typed event map: listen through the plain EventTarget the node is (a widening, not a cast).
  const events: EventTarget = node
  return await new Promise(resolve => {
    const done = (ok: boolean): void => {
      clearTimeout(timer)
      events.removeEventListener('kad-dht:query:self', onSelf)
      resolve(ok)
    }
    const onSelf = (): void => { done(true) }
    const timer = setTimeout(() => { done(false) }, timeoutMs)
    events.addEventListener('kad-dht:query:self', onSelf)
  })
}

interface BuiltNetwork {
  nodes: SimNode[]
  buildMs: number
  settleMs: number
  selfQueryTimeouts: number
  failedDials: number
}

/**
 * Joins nodes one by one as Kademlia does: start, dial 3 random nodes that already joined, and
 * let kad-dht run its own join lookup (the self-query). At most 8 joins run at once, each
 * holding its slot until its self-query ends, so the event loop never falls far behind.
 */
export async function buildNetwork (n: number, variant: DhtVariant, onProgress: (text: string) => void): Promise<BuiltNetwork> {
  const network = ++networkCounter
  const startedAt = performance.now()
  const nodes = await mapWithConcurrency(Array.from({ length: n }, (_, index) => index), 16, async index => await createSimNode(network, index, variant))
  const joined: SimNode[] = []
  let selfQueryTimeouts = 0
  let failedDials = 0
  let next = 0
  const join = async (sim: SimNode): Promise<void> => {
    const targets = sample(joined, DIALS_PER_JOIN)
    const selfQuery = targets.length > 0 ? waitForSelfQuery(sim.node, SELF_QUERY_WAIT_MS) : Promise.resolve(true)
    await sim.node.start()
    sim.address = sim.node.getMultiaddrs()[0] as Multiaddr
    sim.alive = true
    const dials = await Promise.allSettled(targets.map(async target => await sim.node.dial(target.address, { signal: AbortSignal.timeout(20_000) })))
    failedDials += dials.filter(result => result.status === 'rejected').length
    if (!await selfQuery) selfQueryTimeouts++
    joined.push(sim)
    if (joined.length % 128 === 0) onProgress(`joined ${joined.length}/${n} in ${((performance.now() - startedAt) / 1000).toFixed(0)} s`)
  }
  // The first node has no one to dial: start it alone.
  await join(nodes[next++] as SimNode)
  await Promise.all(Array.from({ length: JOIN_CONCURRENCY }, async () => {
    while (next < nodes.length) await join(nodes[next++] as SimNode)
  }))
  const buildMs = performance.now() - startedAt

  // Each node's first table refresh runs after its self-query; wait until tables stop growing.
  const settleStart = performance.now()
  let last = -1
  let stableSince = performance.now()
  while (performance.now() - settleStart < 30_000) {
    const total = nodes.reduce((sum, sim) => sum + kadInternals(sim.node.services.dht).routingTable.size, 0)
    if (total !== last) { last = total; stableSince = performance.now() }
    if (performance.now() - stableSince >= 1_500) break
    await sleep(250)
  }
  return { nodes, buildMs, settleMs: performance.now() - settleStart, selfQueryTimeouts, failedDials }
}

/** The k live peers closest to `target` by brute force (what a perfect lookup returns). */
function trueClosest (nodes: readonly SimNode[], target: Uint8Array, exclude: SimNode): Set<string> {
  return new Set(nodes
    .filter(sim => sim.alive && sim !== exclude)
    .map(sim => ({ id: sim.peerId.toString(), distance: xorDistance(sim.kadId, target) }))
    .sort((a, b) => compareDistances(a.distance, b.distance))
    .slice(0, K)
    .map(entry => entry.id))
}

/**
 * One FIND_NODE lookup with hop accounting. Depth of a peer: 1 if it was among the starting
 * peers (the querier's own k closest), else 1 + the depth of the peer whose response first
 * named it (the smallest such depth when several did).
 */
async function measureLookup (querier: SimNode, nodes: readonly SimNode[]): Promise<LookupSample> {
  const key = crypto.getRandomValues(new Uint8Array(32))
  const target = kadIdOfKey(key)
  const depth = new Map<string, number>()
  for (const peer of tableClosest(querier, target, K)) depth.set(peer.toString(), 1)
  const finals: string[] = []
  let messages = 0
  const startedAt = performance.now()
  let failed = false
  try {
    for await (const event of querier.node.services.dht.getClosestPeers(key, { signal: AbortSignal.timeout(LOOKUP_TIMEOUT_MS) })) {
      noteDepths(event, depth)
      if (event.name === 'SEND_QUERY') messages++
      if (event.name === 'FINAL_PEER') finals.push(event.peer.id.toString())
    }
  } catch {
    failed = true
  }
  const durationMs = performance.now() - startedAt
  const expected = trueClosest(nodes, target, querier)
  const found = finals.filter(peer => expected.has(peer)).length
  const depths = finals.map(peer => depth.get(peer) ?? 1)
  return {
    hops: depths[0] ?? 0,
    kSetDepth: depths.length === 0 ? 0 : Math.max(...depths),
    recall: expected.size === 0 ? 1 : found / expected.size,
    messages,
    durationMs,
    failed: failed || finals.length === 0
  }
}

/**
 * The `count` table entries closest to `target` by XOR: what kad-dht's routingTable.closestPeers
 * returns (it scans the same trie), i.e. the peers a lookup starts from.
 */
function tableClosest (sim: SimNode, target: Uint8Array, count: number): PeerId[] {
  return kadInternals(sim.node.services.dht).routingTablePeers()
    .map(peer => ({ peerId: peer.peerId, distance: xorDistance(peer.kadId, target) }))
    .sort((a, b) => compareDistances(a.distance, b.distance))
    .slice(0, count)
    .map(entry => entry.peerId)
}

function noteDepths (event: QueryEvent, depth: Map<string, number>): void {
  if (event.name === 'SEND_QUERY') {
    if (!depth.has(event.to.toString())) depth.set(event.to.toString(), 1)
  } else if (event.name === 'PEER_RESPONSE') {
    const next = (depth.get(event.from.toString()) ?? 1) + 1
    for (const closer of event.closer) {
      const id = closer.id.toString()
      const known = depth.get(id)
      if (known == null || known > next) depth.set(id, next)
    }
  }
}

export interface StoredRecord { key: Uint8Array, value: Uint8Array }

export async function putRecords (nodes: readonly SimNode[], count: number, network: number): Promise<{ records: StoredRecord[], replicas: number[] }> {
  const records: StoredRecord[] = []
  const replicas: number[] = []
  for (let index = 0; index < count; index++) {
    const author = pickOne(nodes.filter(sim => sim.alive))
    const key = `/webkad/bench-${network}-${index}`
    const value = await createSignedRecord(author.privateKey, author.peerId, { key, payload: { type: 'text', text: `record ${index} from ${author.index}` }, sequence: 1n })
    const keyBytes = fromString(key)
    let accepted = 0
    try {
      for await (const event of author.node.services.dht.put(keyBytes, value, { signal: AbortSignal.timeout(LOOKUP_TIMEOUT_MS) })) {
        if (event.name === 'PEER_RESPONSE' && event.messageName === 'PUT_VALUE') accepted++
      }
    } catch {
      // Counted by `accepted`.
    }
    replicas.push(accepted)
    if (accepted > 0) records.push({ key: keyBytes, value })
  }
  return { records, replicas }
}

/**
 * A Get succeeds when another node returned the exact record. kad-dht's `get` yields only the
 * best value (often the getter's own copy), so every response is read through onProgress.
 */
export async function getRecord (getter: SimNode, record: StoredRecord): Promise<boolean> {
  let found = false
  const onProgress = (progress: CustomEvent<QueryEvent>): void => {
    const event = progress.detail
    if (progress.type !== 'kad-dht:query:peer-response' || event?.name !== 'PEER_RESPONSE') return
    if (event.messageName === 'GET_VALUE' && event.record != null && equals(event.record.value, record.value)) found = true
  }
  try {
    for await (const event of getter.node.services.dht.get(record.key, { signal: AbortSignal.timeout(LOOKUP_TIMEOUT_MS), onProgress: onProgress as (event: unknown) => void })) {
      void event
    }
  } catch {
    // kad-dht throws when a correction write fails after the value was found.
  }
  return found
}

async function getAll (nodes: readonly SimNode[], records: readonly StoredRecord[], count: number): Promise<number> {
  let ok = 0
  for (let index = 0; index < count; index++) {
    const record = records[index % records.length]
    if (record == null) break
    if (await getRecord(pickOne(nodes.filter(sim => sim.alive)), record)) ok++
  }
  return ok
}

export async function stopNodes (victims: readonly SimNode[]): Promise<void> {
  for (const victim of victims) victim.alive = false
  await mapWithConcurrency(victims, 32, async victim => { await Promise.resolve(victim.node.stop()).catch(() => {}) })
}

export interface SimulationPlan {
  lookups: number
  puts: number
  gets: number
  churnLookups: number
}

/** Builds one network of `n` nodes, measures it, stops it. */
export async function simulateNetwork (n: number, variant: DhtVariant, plan: SimulationPlan, log: (text: string) => void = () => {}): Promise<NetworkResult> {
  const startedAt = performance.now()
  const cpuAtStart = process.cpuUsage()
  const loop = watchEventLoop()
  const gcAvailable = await collectGarbage()
  const before = process.memoryUsage()
  loop.reset()
  const cpuBeforeBuild = process.cpuUsage()
  const built = await buildNetwork(n, variant, text => { log(`  N=${n}: ${text}`) })
  const buildCpu = process.cpuUsage(cpuBeforeBuild)
  const buildLoop = loop.read()
  const { nodes } = built
  await collectGarbage()
  const after = process.memoryUsage()
  const sizes = nodes.map(sim => kadInternals(sim.node.services.dht).routingTable.size)
  const meanSize = sizes.reduce((a, b) => a + b, 0) / n
  log(`  N=${n}: built in ${(built.buildMs / 1000).toFixed(1)} s (CPU ${((buildCpu.user + buildCpu.system) / 1e6).toFixed(1)} s, +${(built.settleMs / 1000).toFixed(1)} s settle), table mean ${round(meanSize)}`)

  loop.reset()
  const lookups: LookupSample[] = []
  for (let index = 0; index < plan.lookups; index++) {
    lookups.push(await measureLookup(pickOne(nodes), nodes))
    if ((index + 1) % 25 === 0) log(`  N=${n}: ${index + 1} lookups, last took ${Math.round(lookups.at(-1)?.durationMs ?? 0)} ms`)
  }
  const lookupLoop = loop.read()
  log(`  N=${n}: ${plan.lookups} lookups, hops p50 ${percentile(lookups.map(l => l.hops), 0.5)}, recall ${round(lookups.reduce((sum, l) => sum + l.recall, 0) / Math.max(1, lookups.length))}`)

  loop.reset()
  const { records, replicas } = await putRecords(nodes, plan.puts, networkCounter)
  const getsBefore = await getAll(nodes, records, plan.gets)
  log(`  N=${n}: ${records.length}/${plan.puts} records put, ${getsBefore}/${plan.gets} gets before churn`)
  const churn: NetworkResult['churn'] = []
  let stopped = 0
  for (const share of CHURN_SHARES) {
    const target = Math.round(n * share)
    await stopNodes(sample(nodes.filter(sim => sim.alive), target - stopped))
    stopped = target
    const getsOk = await getAll(nodes, records, plan.gets)
    let recall: number | undefined
    if (share === CHURN_SHARES[0] && plan.churnLookups > 0) {
      const samples: LookupSample[] = []
      for (let index = 0; index < plan.churnLookups; index++) samples.push(await measureLookup(pickOne(nodes.filter(sim => sim.alive)), nodes))
      recall = samples.reduce((sum, s) => sum + s.recall, 0) / samples.length
    }
    churn.push({ stoppedShare: share, getsOk, getsTotal: records.length === 0 ? 0 : plan.gets, recall })
    log(`  N=${n}: ${Math.round(share * 100)}% stopped: ${getsOk}/${plan.gets} gets`)
  }
  const churnLoop = loop.read()
  loop.stop()
  await stopNodes(nodes.filter(sim => sim.alive))
  const cpu = process.cpuUsage(cpuAtStart)
  const durationMs = performance.now() - startedAt
  return {
    n,
    variant,
    buildMs: built.buildMs,
    buildCpuMs: (buildCpu.user + buildCpu.system) / 1000,
    settleMs: built.settleMs,
    selfQueryTimeouts: built.selfQueryTimeouts,
    failedDials: built.failedDials,
    rssPerNodeBytes: (after.rss - before.rss) / n,
    heapPerNodeBytes: (after.heapUsed - before.heapUsed) / n,
    tableSize: { mean: meanSize, min: Math.min(...sizes), max: Math.max(...sizes) },
    lookups,
    put: { stored: records.length, attempted: plan.puts, replicasMean: replicas.reduce((a, b) => a + b, 0) / Math.max(1, replicas.length) },
    getsBefore: { ok: getsBefore, total: records.length === 0 ? 0 : plan.gets },
    churn,
    loop: { build: buildLoop, lookups: lookupLoop, churn: churnLoop },
    cpuShare: (cpu.user + cpu.system) / 1000 / durationMs,
    gcAvailable,
    durationMs
  }
}

const CHURN_SHARES = [0.1, 0.3] as const

export function simulationPlan (quick: boolean): SimulationPlan {
  return quick
    ? { lookups: 30, puts: 5, gets: 10, churnLookups: 5 }
    : { lookups: 100, puts: 20, gets: 20, churnLookups: 20 }
}

type ChildRequest =
  | { scenario?: 'network', n: number, variant: DhtVariant, plan: SimulationPlan }
  | { scenario: 'replacement-churn', n: number, replication: boolean, plan: ReplacementChurnPlan }

/**
 * Runs one network in a fresh Node process, so each N gets its own heap, RSS and event loop
 * (and --expose-gc), and a crash or hang at one size does not take the others down.
 */
async function simulateInChild<R = NetworkResult> (request: ChildRequest, timeoutMs: number): Promise<R> {
  const script = fileURLToPath(import.meta.url)
  const polyfills = fileURLToPath(new URL('../../relay/node20-polyfills.ts', import.meta.url))
  const child = fork(script, ['--child', JSON.stringify(request)], {
    // A larger young generation cuts scavenge time: libp2p allocates many short-lived objects.
    execArgv: ['--import', 'tsx', '--import', polyfills, '--expose-gc', '--max-old-space-size=6144', '--max-semi-space-size=64'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  return await new Promise((resolve, reject) => {
    let result: R | undefined
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`N=${request.n} did not finish within ${timeoutMs / 1000} s`))
    }, timeoutMs)
    child.on('message', (message) => { result = message as R })
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      if (result != null) resolve(result)
      else reject(new Error(`N=${request.n}: simulation process exited (${signal ?? code}) without a result`))
    })
  })
}

async function childMain (requestText: string): Promise<void> {
  const request = JSON.parse(requestText) as ChildRequest
  const result = request.scenario === 'replacement-churn'
    ? await simulateReplacementChurn(request.n, request.replication, request.plan, text => { console.error(text) })
    : await simulateNetwork(request.n, request.variant, request.plan, text => { console.error(text) })
  await new Promise<void>((resolve, reject) => { process.send?.(result, undefined, {}, (err) => { if (err != null) reject(err); else resolve() }) })
  process.exit(0)
}

/** The size at which the library-default DHT settings are run beside TUNED (full mode only). */
const BASELINE_SIZE = 64

export async function runSimulatedNetwork (options: BenchOptions): Promise<BenchSection> {
  // `--sizes 64,1024` on the command line picks other sizes (for investigating one size).
  const sizesArgument = process.argv[process.argv.indexOf('--sizes') + 1]
  const sizes = process.argv.includes('--sizes') && sizesArgument != null
    ? sizesArgument.split(',').map(Number).filter(size => Number.isInteger(size) && size > 1)
    : options.quick ? [16, 64, 256] : [16, 64, 256, 1024]
  const plan = simulationPlan(options.quick)
  // `--noise` runs the same settings with noise encryption (what tabs run) instead of plaintext.
  const encryption = process.argv.includes('--noise') ? 'noise' : 'plaintext'
  const tuned: DhtVariant = { ...TUNED, encryption }
  const stock: DhtVariant = { ...LIBRARY_DEFAULTS_VARIANT, encryption }
  const runs: Array<{ n: number, variant: DhtVariant }> = sizes.map(n => ({ n, variant: tuned }))
  // `--baseline-size <n>` runs the library-default baseline at another size (0: none).
  const baselineArgument = process.argv.includes('--baseline-size') ? Number(process.argv[process.argv.indexOf('--baseline-size') + 1]) : BASELINE_SIZE
  if (!options.quick && sizes.includes(baselineArgument)) runs.splice(sizes.indexOf(baselineArgument) + 1, 0, { n: baselineArgument, variant: stock })
  const results = new Map<number, NetworkResult>()
  const failures: string[] = []
  const runOne = async (index: number): Promise<void> => {
    const { n, variant } = runs[index] as { n: number, variant: DhtVariant }
    console.error(`simulated network: N=${n} (${variant.label}, ${variant.encryption})`)
    try {
      results.set(index, await simulateInChild({ n, variant, plan }, 12 * 60_000))
    } catch (err) {
      failures.push(`N=${n} ${variant.label}: ${(err as Error).message}`)
      console.error(`  ${(err as Error).message}`)
    }
  }
  if (options.quick && runs.length > 1) {
    // Quick mode: the largest network in one process while the small ones run one after another
    // in a second (two cores). Their times disturb each other a little; full mode runs alone.
    await Promise.all([
      runOne(runs.length - 1),
      (async () => { for (let index = 0; index < runs.length - 1; index++) await runOne(index) })()
    ])
  } else {
    for (let index = 0; index < runs.length; index++) await runOne(index)
  }
  const ordered = [...results.entries()].sort(([a], [b]) => a - b).map(([, result]) => result)
  const section = toSection(ordered, plan, tuned, failures, options.quick && runs.length > 1)
  if (!process.argv.includes('--no-replacement-churn')) {
    // With and without holder replication in the same run, side by side on the two cores.
    // `--churn-size <n>` runs the replacement churn at another size (to investigate it).
    const churnSize = process.argv.includes('--churn-size') ? Number(process.argv[process.argv.indexOf('--churn-size') + 1]) : options.quick ? 256 : 1024
    const churnPlan = replacementChurnPlan(options.quick)
    const [withReplication, without] = await Promise.all([true, false].map(async (replication) => {
      console.error(`simulated network: N=${churnSize} replacement churn ${replication ? 'with' : 'without'} holder replication`)
      try {
        // Full: at N=1024 a round with replication takes 6-10 min (one lookup per record held, per node).
        return await simulateInChild<ReplacementChurnResult>({ scenario: 'replacement-churn', n: churnSize, replication, plan: churnPlan }, (options.quick ? 30 : 150) * 60_000)
      } catch (err) {
        section.rows.push({ metric: 'did not finish', value: `replacement churn ${replication ? 'with' : 'without'} replication: ${(err as Error).message}`, unit: '' })
        return undefined
      }
    }))
    section.rows.push(...replacementChurnRows(withReplication, without))
    section.notes.push(`Replacement churn (N=${churnSize}, ${churnPlan.records} records): 10 rounds; in each, ${churnPlan.share * 100}% of the live nodes stop (no handoff) and as many new nodes join (dial 3 random live nodes, kad-dht's join lookup), then one replication interval passes (the record layers' clock moves ${churnPlan.intervalMs / 60_000} min; records live 24 h, so none expires) and, with replication, every live node runs its replication task once, in random order (src/p2p/dht/holder-replication.ts, what tabs and relays run); then every record is read with a Get from a random live node. Both variants ran at the same time in two processes.`)
  }
  return section
}

interface Summary {
  hopsP50: number
  hopsP95: number
  kDepthP50: number
  kDepthP95: number
  recall: number
  fullRecall: number
  failedLookups: number
  messagesP50: number
  messagesP95: number
  timeP50: number
  timeP95: number
}

function summarize (lookups: readonly LookupSample[]): Summary {
  const of = (pick: (l: LookupSample) => number, p: number): number => percentile(lookups.map(pick), p)
  return {
    hopsP50: of(l => l.hops, 0.5),
    hopsP95: of(l => l.hops, 0.95),
    kDepthP50: of(l => l.kSetDepth, 0.5),
    kDepthP95: of(l => l.kSetDepth, 0.95),
    recall: lookups.reduce((sum, l) => sum + l.recall, 0) / Math.max(1, lookups.length),
    fullRecall: lookups.filter(l => l.recall === 1).length / Math.max(1, lookups.length),
    failedLookups: lookups.filter(l => l.failed).length,
    messagesP50: of(l => l.messages, 0.5),
    messagesP95: of(l => l.messages, 0.95),
    timeP50: of(l => l.durationMs, 0.5),
    timeP95: of(l => l.durationMs, 0.95)
  }
}

/** Tables holding at least this share of the network make lookups (nearly) one hop. */
const NEAR_MESH_SHARE = 0.5
const GOAL_SIZE = 1024

function toSection (results: NetworkResult[], plan: SimulationPlan, tuned: DhtVariant, failures: string[], concurrent: boolean): BenchSection {
  const rows: BenchRow[] = []
  const stockResult = results.find(r => r.variant.label === LIBRARY_DEFAULTS_VARIANT.label)
  for (const result of results.filter(r => r.variant.label === tuned.label)) {
    const { n } = result
    const tag = `N=${n}`
    const summary = summarize(result.lookups)
    const log2n = Math.ceil(Math.log2(n))
    const fill = result.tableSize.mean / (n - 1)
    const nearMesh = fill >= NEAR_MESH_SHARE
    const goal = n === GOAL_SIZE
    rows.push({
      metric: `${tag} build: all nodes joined`,
      value: round(result.buildMs / 1000),
      unit: 's',
      note: `CPU ${round(result.buildCpuMs / 1000)} s; then ${round(result.settleMs / 1000)} s for tables to settle; ${result.selfQueryTimeouts} join lookups not done in ${SELF_QUERY_WAIT_MS / 1000} s; ${result.failedDials} failed dials`
    })
    rows.push({
      metric: `${tag} routing table size, mean`,
      value: round(result.tableSize.mean),
      unit: 'peers',
      note: `min ${result.tableSize.min}, max ${result.tableSize.max}: ${Math.round(fill * 100)}% of the network${nearMesh ? ' — NEAR FULL MESH: lookups are 1-2 hops whatever Kademlia does' : ' — multi-hop regime'}`
    })
    rows.push({
      metric: `${tag} hops per lookup p50${nearMesh ? ' (near full mesh)' : ''}`,
      value: summary.hopsP50,
      unit: 'hops',
      baseline: log2n,
      baselineLabel: '⌈log2 N⌉',
      ratio: roundedRatio(summary.hopsP50, log2n),
      ...(goal ? { goal: '≤ 3', met: summary.hopsP50 <= 3 } : {})
    })
    rows.push({ metric: `${tag} hops per lookup p95`, value: summary.hopsP95, unit: 'hops', baseline: log2n, baselineLabel: '⌈log2 N⌉', ratio: roundedRatio(summary.hopsP95, log2n) })
    rows.push({ metric: `${tag} depth to complete the k-set p50 / p95`, value: `${summary.kDepthP50} / ${summary.kDepthP95}`, unit: 'hops' })
    rows.push({
      metric: `${tag} recall of the true ${K} closest (${result.lookups.length} keys)`,
      value: round(summary.recall),
      unit: 'share',
      baseline: 1,
      baselineLabel: 'brute-force XOR sort',
      ratio: round(summary.recall),
      ...(goal ? { goal: '≥ 0.95', met: summary.recall >= 0.95 } : {}),
      note: `${Math.round(summary.fullRecall * 100)}% of lookups found all ${K}; ${summary.failedLookups} failed`
    })
    rows.push({ metric: `${tag} FIND_NODE messages per lookup p50 / p95`, value: `${summary.messagesP50} / ${summary.messagesP95}`, unit: 'messages' })
    rows.push({ metric: `${tag} lookup time p50 / p95`, value: `${round(summary.timeP50)} / ${round(summary.timeP95)}`, unit: 'ms', note: 'memory transport in one CPU-bound process: CPU cost, not network latency' })
    rows.push({ metric: `${tag} Put: records stored`, value: `${result.put.stored}/${result.put.attempted}`, unit: 'records', note: `each accepted by ${round(result.put.replicasMean)} of the ${K} closest peers on average` })
    rows.push({ metric: `${tag} Get success, no churn`, value: pct(result.getsBefore.ok, result.getsBefore.total), unit: '%', note: `${result.getsBefore.ok}/${result.getsBefore.total}` })
    for (const churn of result.churn) {
      const share = Math.round(churn.stoppedShare * 100)
      const success = pct(churn.getsOk, churn.getsTotal)
      rows.push({
        metric: `${tag} Get success after ${share}% of nodes stopped`,
        value: success,
        unit: '%',
        ...(goal && share === 10 ? { goal: '≥ 99', met: success >= 99 } : {}),
        note: `${churn.getsOk}/${churn.getsTotal}${churn.recall != null ? `; lookup recall then ${round(churn.recall)}` : ''}`
      })
    }
    rows.push({ metric: `${tag} RSS per node`, value: megabytes(result.rssPerNodeBytes), unit: 'MB', note: `JS heap ${megabytes(result.heapPerNodeBytes)} MB per node, after the build${result.gcAvailable ? ', after a full GC' : ' (no GC available)'}` })
    rows.push({
      metric: `${tag} event-loop delay p99: build / lookups / churn`,
      value: `${result.loop.build.p99} / ${result.loop.lookups.p99} / ${result.loop.churn.p99}`,
      unit: 'ms',
      note: `max ${result.loop.build.max} / ${result.loop.lookups.max} / ${result.loop.churn.max} ms; process used ${Math.round(result.cpuShare * 100)}% of one core over ${round(result.durationMs / 1000)} s`
    })
    if (stockResult != null && stockResult.n === n) rows.push(...baselineRows(result, stockResult))
  }
  if (!results.some(r => r.n === GOAL_SIZE && r.variant.label === tuned.label)) {
    rows.push({ metric: `N=${GOAL_SIZE} goals (hops p50 ≤ 3, recall ≥ 0.95, Get ≥ 99% after 10% stopped)`, value: 'not run', unit: '', note: 'quick mode stops at N=256' })
  }
  for (const failure of failures) rows.push({ metric: 'did not finish', value: failure, unit: '' })
  return { title: `Simulated webkad DHT in one process (N = ${[...new Set(results.map(r => r.n))].join(', ')})`, rows, notes: sectionNotes(results, plan, tuned, concurrent) }
}

/** The same size with the library's DHT settings, measured in the same run. */
function baselineRows (tuned: NetworkResult, stock: NetworkResult): BenchRow[] {
  const label = 'library DHT defaults, same run'
  const tag = `N=${tuned.n}`
  const a = summarize(tuned.lookups)
  const b = summarize(stock.lookups)
  return [
    { metric: `${tag} vs library defaults: FIND_NODE messages per lookup p50`, value: a.messagesP50, unit: 'messages', baseline: b.messagesP50, baselineLabel: label, ratio: roundedRatio(a.messagesP50, b.messagesP50) },
    { metric: `${tag} vs library defaults: lookup time p50`, value: round(a.timeP50), unit: 'ms', baseline: round(b.timeP50), baselineLabel: label, ratio: roundedRatio(a.timeP50, b.timeP50) },
    { metric: `${tag} vs library defaults: hops p50 / recall`, value: `${a.hopsP50} / ${round(a.recall)}`, unit: 'hops / share', baseline: `${b.hopsP50} / ${round(b.recall)}`, baselineLabel: label },
    { metric: `${tag} vs library defaults: build CPU`, value: round(tuned.buildCpuMs / 1000), unit: 's', baseline: round(stock.buildCpuMs / 1000), baselineLabel: label, ratio: roundedRatio(tuned.buildCpuMs, stock.buildCpuMs), note: `wall ${round(tuned.buildMs / 1000)} s vs ${round(stock.buildMs / 1000)} s` },
    { metric: `${tag} vs library defaults: RSS per node`, value: megabytes(tuned.rssPerNodeBytes), unit: 'MB', baseline: megabytes(stock.rssPerNodeBytes), baselineLabel: label, ratio: roundedRatio(tuned.rssPerNodeBytes, stock.rssPerNodeBytes) },
    { metric: `${tag} vs library defaults: Get success after 10% stopped`, value: pct(tuned.churn[0]?.getsOk ?? 0, tuned.churn[0]?.getsTotal ?? 0), unit: '%', baseline: pct(stock.churn[0]?.getsOk ?? 0, stock.churn[0]?.getsTotal ?? 0), baselineLabel: label }
  ]
}

function sectionNotes (results: NetworkResult[], plan: SimulationPlan, tuned: DhtVariant, concurrent: boolean): string[] {
  const goal = results.find(r => r.n === GOAL_SIZE && r.variant.label === tuned.label)
  const notes = [
    `Every webkad node is built by createWebkadNode, as a tab's is: the same identify, identifyPush, ping, DHT and chat services and the record layer (record-holding.ts) over its datastore, on the memory transport with ${tuned.encryption} encryption and yamux instead of WebSockets/WebRTC/circuit relay and noise. Its DHT is webkad's configuration — webkadDHT(): protocol /webkad/kad/1.0.0, server mode, passthroughMapper, webkad's signed-record validator and selector. identifyPush and chat were added to the simulation with createWebkadNode; chat is idle (no messages are sent) and identifyPush only pushes when a node's addresses or protocols change, so both cost little here. Records are real signed webkad records. Each N runs in a fresh child process (own heap, RSS and event loop).`,
    `Settings that differ from @libp2p/kad-dht / libp2p defaults, and why: alpha ${tuned.alpha} (library 10) and ${tuned.disjointPaths} disjoint path (library: as many as alpha) — the Kademlia paper's alpha; 1/6 of the messages per lookup and a less loaded event loop. No ping before adding a new contact to a bucket (library pings each one, one connection each) — switched off through kadInternals().skipPingBeforeAdd(), which replaces the private routingTable.kb.verify and is fragile across kad-dht versions (the adapter fails loudly if it disappears). Connection monitor off (webkad's pings every connection every 3 s, libp2p's every 10 s). maxConnections ${tuned.maxConnections} (libp2p's browser default, what tabs get; Node's default is 300). Join lookup started as soon as the first peer is known (initialQuerySelfInterval 0 instead of 1 s: saves idle time, not work). Unchanged: k 20, prefixLength 6 (tables hold up to 2^6 × 20 = 1280 peers), the refresh on start.`,
    `Encryption: ${tuned.encryption === 'plaintext' ? 'PLAINTEXT (@libp2p/plaintext), not the noise tabs use — a new connection costs about half the CPU, which is what made N=1024 fit the time budget. Routing (hops, recall, Get success) does not depend on it; build and lookup times would be higher with noise (run with --noise).' : 'noise, as tabs use.'}`,
    'Joining: nodes join one after another, 8 at a time; each dials 3 random nodes that already joined, then kad-dht runs its own join lookup (self-query) and the join slot is held until that ends (or 7 s). Tables are filled only by these joins, the refresh kad-dht runs on start and the measured lookups — nothing is injected, so tables are "lazily filled": far below their capacity at N ≥ 256.',
    `Hops: a peer's depth is 1 if it was one of the querier's own ${K} closest table entries (the lookup's starting peers), otherwise 1 + the depth of the peer whose response named it (the smallest such depth). "Hops per lookup" = depth of the closest peer the lookup returned: the number of sequential request rounds along the path that found it (1 = already in the querier's table). "Depth to complete the k-set" = the largest depth among all ${K} returned peers. Baseline ⌈log2 N⌉ is Kademlia's lookup bound (⌈log2 N⌉ + c steps, one prefix bit per step); js tables resolve several bits per step. For scale, the IPFS DHT (~16k servers) takes 4 hops median (ProbeLab).`,
    `Near full mesh: when tables hold ≥ ${NEAR_MESH_SHARE * 100}% of the network (marked per N), a lookup is 1-2 hops whatever the algorithm — those rows say nothing about Kademlia routing. At N ≥ 256 the lazily-filled tables hold ≤ ~20% of the network, so those rows are the multi-hop regime; prefixLength was therefore left at the production value 6 (lowering it would only cap tables that are not full).`,
    `Recall: share of the true ${K} closest live peers (brute-force XOR sort of sha256(peer-id multihash) against sha256(key), querier excluded — as kad-dht measures distance) that getClosestPeers returned; ${plan.lookups} random keys, each from a random node, one at a time.`,
    `Churn: ${plan.puts} records are Put from random nodes, then ${plan.gets} Gets from random live nodes per phase (cycling over the records); 10% of nodes are stopped at once with node.stop() (no record handoff, no republish), then 20% more (30% in total). A Get counts only when another node returned the exact record (a getter's own copy does not count). Dials to a stopped node fail at once on the memory transport, so churn is cheaper here than on a real network where they time out.`,
    'RSS per node: growth of the process RSS over the build divided by N, after a full GC. Event-loop delay is how late the loop ran (perf_hooks); when it reaches seconds, kad-dht\'s wall-clock timeouts fire without real faults. The machine is shared: wall times vary between runs, CPU times less so.'
  ]
  if (results.some(r => r.variant.label === LIBRARY_DEFAULTS_VARIANT.label)) {
    notes.push(`Same-run baseline: a stock node (bench/node/stock-node.ts: libp2p and kad-dht defaults — alpha 10, 10 disjoint paths, ping before add, connection monitor on every 10 s, 300 connections — with identify and ping but no identifyPush or chat, webkadDHT() without overrides; same transport and encryption) at N=${BASELINE_SIZE}, where both are near full mesh — so hops and messages match and the difference shows in build CPU and memory. At N=256 the library settings took 141 s of build CPU (vs 18 s) and 3.5 GB RSS, and 25 lookups had not finished after 5 minutes (measured once while writing this bench; likely the connection monitor pinging every connection of 256 nodes every 10 s, plus a ping per new contact), so the baseline is not run there.`)
  }
  if (concurrent) notes.push(`Quick mode: N=${results.at(-1)?.n ?? ''} ran in one process while the smaller networks ran in another, so times and event-loop figures include that contention.`)
  if (goal != null) {
    const summary = summarize(goal.lookups)
    const unmet: string[] = []
    if (summary.hopsP50 > 3) unmet.push(`hops p50 ${summary.hopsP50} > 3`)
    if (summary.recall < 0.95) unmet.push(`recall ${round(summary.recall)} < 0.95: lookups only follow strictly closer peers and stop once the k best have answered; with alpha 3 and one path, a true neighbour that no queried peer happens to know is missed (${Math.round(summary.fullRecall * 100)}% of lookups found all ${K}). Library alpha 10 / 10 paths trade ~6× the messages for more coverage`)
    const churnGet = goal.churn[0]
    if (churnGet != null && pct(churnGet.getsOk, churnGet.getsTotal) < 99) unmet.push(`Get after 10% stopped ${pct(churnGet.getsOk, churnGet.getsTotal)}% < 99%: records live on the k closest at Put time and are not republished within the run`)
    notes.push(unmet.length === 0 ? `N=${GOAL_SIZE}: all three goals met in this run.` : `N=${GOAL_SIZE} goals not met — ${unmet.join('; ')}.`)
  }
  return notes
}

function roundedRatio (value: number, baseline: number): number | undefined {
  const result = ratio(value, baseline)
  return result == null ? undefined : round(result)
}

function pct (ok: number, total: number): number {
  return total === 0 ? 0 : round((100 * ok) / total)
}

if (isMainModule(import.meta.url)) {
  const childIndex = process.argv.indexOf('--child')
  if (childIndex > 0) {
    childMain(process.argv[childIndex + 1] ?? '{}').catch((err: unknown) => {
      console.error(err)
      process.exit(1)
    })
  } else {
    void runStandalone(runSimulatedNetwork)
  }
}

