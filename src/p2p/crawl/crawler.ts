import { logger } from '@libp2p/logger'
import { multiaddr } from '@multiformats/multiaddr'
import { DHT_PROTOCOL } from '../constants.ts'
import { kadIdOfPeer } from '../dht/kad-math.ts'
import { CrawlProtocolError } from '../errors.ts'
import { preferredConnection } from '../network/duplicate-connections.ts'
import { hasPrefix, keyWithPrefix, MAX_PREFIX_BITS } from './bucket-keys.ts'
import { KadWire } from './kad-wire.ts'
import type { CrawlCounts, CrawledNode, CrawlNodeKind, CrawlProgressEvent, CrawlResult } from './crawl-types.ts'
import type { AnsweredPeer } from './kad-wire.ts'
import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

const log = logger('webkad:crawl')

/** What the crawler needs from the node it runs in: dialing, and this node's own k-buckets. */
export interface CrawlHost {
  node: Pick<Libp2p, 'peerId' | 'dialProtocol' | 'getConnections' | 'peerStore' | 'getMultiaddrs' | 'addEventListener' | 'removeEventListener'>
  /** The peers in this node's k-buckets (the crawl's seeds, and this node's own table). */
  routingTablePeers(): PeerId[]
  kBucketSize: number
}

export interface CrawlOptions {
  signal?: AbortSignal
  onProgress?(event: CrawlProgressEvent): void
  /**
   * Peers crawled at the same time.
   * @default 8
   */
  concurrency?: number
  /**
   * FIND_NODE requests sent to one peer at most (one per keyspace region; a table of n peers needs about 2n/k).
   * @default 16
   */
  maxRequestsPerPeer?: number
  /**
   * Peers accepted from one answer; kad-dht answers with its bucket size (k).
   * @default the host's k
   */
  maxPeersPerAnswer?: number
  /**
   * Nodes the crawl keeps track of at most; peers heard of beyond it are not crawled.
   * @default 2000
   */
  maxNodes?: number
  /**
   * How long one answer may take.
   * @default 4000
   */
  requestTimeoutMs?: number
  /**
   * Time for one dial of a peer (tried twice): a WebRTC connection through a relay takes seconds.
   * @default 10000
   */
  dialTimeoutMs?: number
}

const RELAY_HOP_PROTOCOL = '/libp2p/circuit/relay/0.2.0/hop'
/**
 * Streams opened to one peer at most when a stream breaks before its answer: webkad closes the
 * duplicate of two WebRTC connections opened at once (both tabs dialling), streams and all.
 */
const MAX_STREAMS_PER_PEER = 2

interface NodeEntry {
  peerId: PeerId
  kadId: Uint8Array
  addresses: Multiaddr[]
  seenAt: number
  table: Map<string, PeerId>
  requests: number
  status: 'pending' | 'self' | 'crawled' | 'unreachable'
  crawledAt?: number
  error?: string
  truncated?: boolean
}

/**
 * Crawls the DHT over the standard kad protocol, after Nebula's method: starting from this node's
 * routing table, every peer heard of is asked FIND_NODE for keys that probe its keyspace, until no
 * new peer appears. kad-dht's table is a trie whose buckets split anywhere (not only on the own-ID
 * side), so the probes go by bit prefix rather than by common-prefix length: a region whose answer
 * holds k peers inside it is split in two and each half probed, until every region is listed. The
 * answers, together, are that peer's routing table. Never throws for a peer's
 * misbehaviour (it is noted on the peer); an abort ends the crawl with what was learned so far.
 */
export async function crawlNetwork (host: CrawlHost, options: CrawlOptions = {}): Promise<CrawlResult> {
  const concurrency = options.concurrency ?? 8
  const maxRequests = options.maxRequestsPerPeer ?? 16
  const maxPeersPerAnswer = options.maxPeersPerAnswer ?? host.kBucketSize
  // An answer this full may have left peers of its region out (kad-dht answers with k peers).
  const fullAnswer = Math.max(1, Math.min(host.kBucketSize, maxPeersPerAnswer))
  const maxNodes = options.maxNodes ?? 2000
  const requestTimeoutMs = options.requestTimeoutMs ?? 4000
  const dialTimeoutMs = options.dialTimeoutMs ?? 10_000
  const signal = options.signal ?? new AbortController().signal
  const startedAt = Date.now()
  const self = host.node.peerId
  const nodes = new Map<string, NodeEntry>()
  const queue: NodeEntry[] = []
  const counts: CrawlCounts = { crawled: 0, found: 0, unreachable: 0, requests: 0 }
  const report = (event: CrawlProgressEvent): void => {
    try { options.onProgress?.(event) } catch (err) { log.error('onProgress threw - %e', err) }
  }

  const discover = (peerId: PeerId, addresses: Multiaddr[]): NodeEntry | undefined => {
    const key = peerId.toString()
    const known = nodes.get(key)
    if (known != null) {
      // Later answers may know addresses the first did not.
      if (known.addresses.length === 0 && addresses.length > 0) known.addresses = addresses
      return known
    }
    if (nodes.size >= maxNodes) return undefined
    const entry: NodeEntry = { peerId, kadId: kadIdOfPeer(peerId), addresses, seenAt: Date.now(), table: new Map(), requests: 0, status: 'pending' }
    nodes.set(key, entry)
    counts.found++
    queue.push(entry)
    report({ name: 'crawl:found', peerId: key, counts: { ...counts } })
    return entry
  }

  // This node answers for itself: its table is read locally, not over the wire.
  const selfEntry: NodeEntry = { peerId: self, kadId: kadIdOfPeer(self), addresses: host.node.getMultiaddrs(), seenAt: startedAt, table: new Map(), requests: 0, status: 'self', crawledAt: startedAt }
  nodes.set(self.toString(), selfEntry)
  counts.found++
  // Peer-store reads (IndexedDB in a tab) at once, not one after another: they delayed the first request.
  const seeds = host.routingTablePeers()
  const seedAddresses = await Promise.all(seeds.map(async peer => await knownAddresses(host, peer)))
  for (const [index, peer] of seeds.entries()) {
    selfEntry.table.set(peer.toString(), peer)
    discover(peer, seedAddresses[index] ?? [])
  }

  const openStream = async (target: PeerId | Multiaddr[], avoid?: Connection): Promise<Stream> => await openDhtStream(host, target, { signal, dialTimeoutMs, avoid })

  const crawlOne = async (entry: NodeEntry): Promise<void> => {
    let wire: KadWire | undefined
    try {
      const target = await dialTarget(host, entry.peerId, entry.addresses)
      if (target == null) throw new Error('no address known')
      wire = new KadWire(await openStream(target))
      let streams = 1
      // The connection the stream runs on, found while the stream is still listed on it.
      let streamConnection = connectionOf(host, entry.peerId, wire.stream)
      // Regions of the peer's keyspace still to list, as bit prefixes; '' is the whole table.
      const regions = ['']
      while (regions.length > 0) {
        const prefix = regions.shift() ?? ''
        if (entry.requests >= maxRequests) { entry.truncated = true; break }
        signal.throwIfAborted()
        const { key } = keyWithPrefix(prefix)
        entry.requests++
        counts.requests++
        report({ name: 'crawl:request', peerId: entry.peerId.toString(), prefix, counts: { ...counts } })
        let answer
        try {
          answer = await wire.findNode(key, { maxPeers: maxPeersPerAnswer, signal: AbortSignal.any([signal, AbortSignal.timeout(requestTimeoutMs)]) })
        } catch (err) {
          wire.abort(err instanceof Error ? err : new Error(describeError(err)))
          if (!askAgain(err, signal, streams, entry.peerId)) throw err
          // Never on the connection the stream broke on.
          wire = new KadWire(await openStream(target, streamConnection))
          streamConnection = connectionOf(host, entry.peerId, wire.stream)
          streams++
          regions.unshift(prefix)
          continue
        }
        if (answer.dropped > 0) log('%p: %d entries dropped from one answer', entry.peerId, answer.dropped)
        const inside = new Set<string>()
        for (const peer of answer.peers) {
          // A peer never holds itself, and kad-dht never tells us about us: both would be lies or echoes.
          if (peer.peerId.equals(entry.peerId) || peer.peerId.equals(self)) continue
          if (discover(peer.peerId, peer.addresses) == null) continue
          entry.table.set(peer.peerId.toString(), peer.peerId)
          if (hasPrefix(kadIdOfPeer(peer.peerId), prefix)) inside.add(peer.peerId.toString())
        }
        // k distinct peers inside the region: it may hold more, so its two halves are listed next.
        if (inside.size >= fullAnswer) {
          if (prefix.length >= MAX_PREFIX_BITS) entry.truncated = true
          else regions.push(`${prefix}0`, `${prefix}1`)
        }
      }
      entry.status = 'crawled'
      entry.crawledAt = Date.now()
      counts.crawled++
      report({ name: 'crawl:crawled', peerId: entry.peerId.toString(), counts: { ...counts } })
      await wire.close({ signal: AbortSignal.timeout(1000) })
    } catch (err) {
      wire?.abort(err instanceof Error ? err : new Error(String(err)))
      if (signal.aborted) { entry.error = 'crawl cancelled'; entry.status = 'pending'; return }
      entry.error = describeError(err)
      if (entry.requests > 0 && entry.table.size > 0) {
        // Some answers came: keep what was learned, marked incomplete.
        entry.status = 'crawled'
        entry.crawledAt = Date.now()
        entry.truncated = true
        counts.crawled++
        report({ name: 'crawl:crawled', peerId: entry.peerId.toString(), counts: { ...counts } })
        return
      }
      entry.status = 'unreachable'
      counts.unreachable++
      report({ name: 'crawl:unreachable', peerId: entry.peerId.toString(), error: entry.error, counts: { ...counts } })
    }
  }

  // A pool of `concurrency` workers over a queue that grows as answers arrive.
  let active = 0
  await new Promise<void>((resolve) => {
    const pump = (): void => {
      if (signal.aborted && active === 0) { resolve(); return }
      while (!signal.aborted && active < concurrency && queue.length > 0) {
        const entry = queue.shift()
        if (entry == null) break
        active++
        void crawlOne(entry).finally(() => { active--; pump() })
      }
      if (active === 0 && (queue.length === 0 || signal.aborted)) resolve()
    }
    signal.addEventListener('abort', pump, { once: true })
    pump()
  })

  const result: CrawlResult = {
    format: 'webkad-crawl',
    version: 1,
    crawler: self.toString(),
    startedAt,
    finishedAt: Date.now(),
    kBucketSize: host.kBucketSize,
    requests: counts.requests,
    cancelled: signal.aborted,
    nodes: await Promise.all([...nodes.values()].map(async entry => await toCrawledNode(host, entry)))
  }
  return result
}

async function knownAddresses (host: CrawlHost, peer: PeerId): Promise<Multiaddr[]> {
  try {
    return (await host.node.peerStore.get(peer)).addresses.map(address => address.multiaddr)
  } catch {
    return []
  }
}

/** The peer itself when libp2p can reach it (an open connection or addresses it knows), else the addresses heard of. */
export async function dialTarget (host: CrawlHost, peerId: PeerId, addresses: readonly Multiaddr[]): Promise<PeerId | Multiaddr[] | undefined> {
  if (host.node.getConnections(peerId).some(connection => connection.status === 'open' && connection.limits == null)) return peerId
  if ((await knownAddresses(host, peerId)).length > 0) return peerId
  if (addresses.length === 0) return undefined
  // A made-up peer with no address would otherwise send libp2p on a DHT lookup for it.
  return addresses.map(address => address.getComponents().some(component => component.name === 'p2p' && component.value === peerId.toString())
    ? address
    : address.encapsulate(multiaddr(`/p2p/${peerId.toString()}`)))
}

/**
 * A stream on the standard kad protocol. With two WebRTC connections to a peer (both tabs dialled
 * at once) the stream goes on the one both ends keep (preferredConnection): libp2p's own choice
 * may be the duplicate about to be closed under it. A tab is often reached by a new WebRTC
 * connection set up through a relay (seconds), or the first try meets a connection that is
 * closing: one more try, away from the connection that failed, each with its own timeout.
 */
export async function openDhtStream (host: CrawlHost, target: PeerId | Multiaddr[], options: { signal: AbortSignal, dialTimeoutMs: number, avoid?: Connection | undefined }): Promise<Stream> {
  const { signal, dialTimeoutMs } = options
  const openConnections = (): Connection[] => Array.isArray(target) ? [] : host.node.getConnections(target).filter(connection => connection.status === 'open' && connection.limits == null)
  const attempt = async (avoid: Connection | undefined): Promise<{ stream?: Stream, used?: Connection, error?: unknown }> => {
    const timeout = AbortSignal.any([signal, AbortSignal.timeout(dialTimeoutMs)])
    // Only the connection to avoid is open: it is most likely a duplicate about to be closed while
    // the one both ends keep is still being set up. A forced dial would add a third; wait instead.
    if (avoid != null && !Array.isArray(target) && openConnections().every(connection => connection === avoid)) await connectionsChanged(host, target, timeout)
    const open = openConnections()
    const usable = open.filter(connection => connection !== avoid)
    // Nothing else came: the connection stayed open (only the stream broke), so it is used again.
    const keep = usable.length > 0 ? preferredConnection(host.node.peerId, usable) : open[0]
    try {
      if (keep != null) return { stream: await keep.newStream(DHT_PROTOCOL, { signal: timeout }), used: keep }
      return { stream: await host.node.dialProtocol(target, DHT_PROTOCOL, { signal: timeout }) }
    } catch (error) {
      return { error, ...(keep != null ? { used: keep } : {}) }
    }
  }
  const first = await attempt(options.avoid)
  if (first.stream != null) return first.stream
  signal.throwIfAborted()
  log('stream to %s failed, trying once more away from that connection - %s', target.toString(), describeError(first.error))
  const second = await attempt(first.used ?? options.avoid)
  if (second.stream != null) return second.stream
  throw second.error
}

async function toCrawledNode (host: CrawlHost, entry: NodeEntry): Promise<CrawledNode> {
  const stored = await knownAddresses(host, entry.peerId)
  const addresses = stored.length > 0 ? stored : entry.addresses
  return {
    peerId: entry.peerId.toString(),
    kind: entry.status === 'self' ? 'self' : await nodeKind(host, entry.peerId, addresses),
    status: entry.status === 'pending' ? 'skipped' : entry.status,
    addresses: addresses.slice(0, 16).map(String),
    seenAt: entry.seenAt,
    ...(entry.crawledAt != null ? { crawledAt: entry.crawledAt } : {}),
    requests: entry.requests,
    routingTable: [...entry.table.keys()],
    ...(entry.error != null ? { error: entry.error } : {}),
    ...(entry.truncated === true ? { truncated: true } : {})
  }
}

/** A relay offers the circuit hop protocol; a tab has only relayed and WebRTC addresses. */
async function nodeKind (host: CrawlHost, peerId: PeerId, addresses: Multiaddr[]): Promise<CrawlNodeKind> {
  try {
    if ((await host.node.peerStore.get(peerId)).protocols.includes(RELAY_HOP_PROTOCOL)) return 'relay'
  } catch { /* never identified */ }
  if (addresses.length > 0 && addresses.every(address => address.toString().includes('/p2p-circuit'))) return 'tab'
  return 'other'
}


/**
 * One request to a peer on a stream of its own, asked once more on a new stream (never on the connection it broke on)
 * when the first breaks before its answer, as the crawl does; a lie, a timeout or our abort is not
 * asked again. The stream is closed after the answer.
 */
export async function requestOnce<T> (host: CrawlHost, peer: PeerId, target: PeerId | Multiaddr[], ask: (wire: KadWire) => Promise<T>, options: { signal: AbortSignal, dialTimeoutMs: number }): Promise<T> {
  const { signal } = options
  let wire = new KadWire(await openDhtStream(host, target, options))
  let connection = connectionOf(host, peer, wire.stream)
  for (let streams = 1; ; streams++) {
    try {
      const answer = await ask(wire)
      await wire.close({ signal: AbortSignal.timeout(1000) }).catch(() => {})
      return answer
    } catch (err) {
      wire.abort(err instanceof Error ? err : new Error(describeError(err)))
      if (!askAgain(err, signal, streams, peer)) throw err
      wire = new KadWire(await openDhtStream(host, target, { ...options, avoid: connection }))
      connection = connectionOf(host, peer, wire.stream)
    }
  }
}

/** How long a retry waits for a peer's connections to change: the duplicate closer waits 1 s after an open. */
const CONNECTIONS_SETTLE_MS = 2_000

/** Resolves when a connection to `peer` opens or closes, after CONNECTIONS_SETTLE_MS, or on `signal`. */
async function connectionsChanged (host: CrawlHost, peer: PeerId, signal: AbortSignal): Promise<void> {
  await new Promise<void>(resolve => {
    const done = (): void => {
      clearTimeout(timer)
      host.node.removeEventListener('connection:open', changed)
      host.node.removeEventListener('connection:close', changed)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const changed = (event: CustomEvent<Connection>): void => { if (event.detail.remotePeer.equals(peer)) done() }
    const timer = setTimeout(done, CONNECTIONS_SETTLE_MS)
    host.node.addEventListener('connection:open', changed)
    host.node.addEventListener('connection:close', changed)
    signal.addEventListener('abort', done, { once: true })
  })
}

function connectionOf (host: CrawlHost, peer: PeerId, stream: Stream): Connection | undefined {
  return host.node.getConnections(peer).find(connection => connection.streams.includes(stream))
}

/**
 * Whether a request that failed on stream number `streams` is asked again on a new stream: only
 * a broken stream is, once; a lie, its own timeout or our abort is not.
 */
function askAgain (err: unknown, signal: AbortSignal, streams: number, peer: PeerId): boolean {
  if (signal.aborted || err instanceof CrawlProtocolError || isTimeout(err) || streams >= MAX_STREAMS_PER_PEER) return false
  log('%p: stream broke before its answer, asking again on a new stream - %s', peer, describeError(err))
  return true
}

/** The request's own timeout fired (the crawl's signal is checked apart). */
function isTimeout (err: unknown): boolean {
  const name = (err as Error | undefined)?.name
  return name === 'TimeoutError' || name === 'AbortError'
}

export function describeError (err: unknown): string {
  if (err instanceof Error) return err.name === 'Error' ? err.message : `${err.name}: ${err.message}`
  // WebRTC data channels fail with a bare Event (`error`, `close`), which prints as [object Event].
  if (typeof Event !== 'undefined' && err instanceof Event) return `${err.type} event on the ${(err.target as object | null)?.constructor.name ?? 'stream'}`
  return String(err)
}

export type { AnsweredPeer }
