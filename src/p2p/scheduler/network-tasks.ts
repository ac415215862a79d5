import { WebRTC } from '@multiformats/multiaddr-matcher'
import { DHT_PROTOCOL } from '../constants.ts'
import { describeReplicationRound, replicateHeldRecords } from '../dht/holder-replication.ts'
import { webrtcAddressFor } from '../network/webrtc-address.ts'
import { Backoff } from '../backoff.ts'
import { Scheduler } from './scheduler.ts'
import type { AuthoredRecords } from './authored-records.ts'
import type { TaskDefinition, TaskOutcome } from './scheduler.ts'
import type { DhtOperations } from '../dht/dht-operations.ts'
import type { DhtProgressEvent } from '../dht/dht-progress.ts'
import type { KadInternals } from '../dht/kad-internals.ts'
import type { RelayConnection } from '../network/relay-connection.ts'
import type { WebkadNode } from '../node.ts'
import type { PeerId } from '@libp2p/interface'
import type { RecordHolding } from '../dht/record-holding.ts'

export interface NetworkTaskContext {
  node: WebkadNode
  dht: DhtOperations
  kad: KadInternals
  /** The records the node holds (its datastore's record layer). */
  holding: RecordHolding
  /** Holder replication interval. @default TASK_INTERVALS.replicate */
  replicationIntervalMs?: number
  /** The tab's relay reservation, kept on a relay that is up. */
  relay: Pick<RelayConnection, 'ensureReserved'>
  /** Direct (WebRTC) connections the auto-dial task aims for. */
  maxDirectConnections: number
  authored: AuthoredRecords
  /** Tasks of lazily loaded features, run beside these (e.g. 'reprovide-files'). */
  extraTasks?: readonly TaskDefinition[]
  /** A fresh `onProgress` for one DHT operation of a task, so its lookups show in the query log. */
  trace(): (event: DhtProgressEvent) => void
}

/** Intervals of webkad's own tasks (kad-dht runs its own refresh and self-query too). */
export const TASK_INTERVALS = {
  relayReservation: 3_000,
  autoDial: 3_000,
  randomWalk: 30_000,
  selfLookup: 60_000,
  routingTableRefresh: 5 * 60_000,
  republish: 60_000,
  expireRecords: 30_000,
  // Kademlia replicates hourly; a tab does it every few minutes so it can be watched.
  replicate: 3 * 60_000
} as const

const RELAY_BACKOFF_INITIAL_MS = 1_000
// Capped low so a relay that comes back is found again within seconds, not half a minute.
const RELAY_BACKOFF_MAX_MS = 8_000
/** Connections at once the auto-dial task opens per run (WebRTC set-up is CPU-heavy). */
const DIALS_PER_RUN = 2
/** Below this many direct connections a tab dials anyone; above, only peers with a larger ID. */
const MIN_DIRECT_CONNECTIONS = 2
/**
 * A tab below MIN_DIRECT_CONNECTIONS walks again this soon, doubling up to the walk's interval:
 * a peer whose WebRTC dial failed during a lookup never reaches the routing table, so auto-dial
 * cannot retry it, and otherwise only the next walk, 30 s later, would meet it again.
 */
const SPARSE_WALK_INITIAL_MS = 5_000

/** Starts a scheduler running the tab's network tasks; the caller owns `stop()`. */
export function startNetworkScheduler (context: NetworkTaskContext): Scheduler {
  const scheduler = new Scheduler()
  for (const task of [...createNetworkTasks(context), ...(context.extraTasks ?? [])]) scheduler.add(task)
  scheduler.start()
  return scheduler
}

/** The tab's periodic network tasks, for the Scheduler. */
export function createNetworkTasks (context: NetworkTaskContext): TaskDefinition[] {
  return [
    relayReservationTask(context),
    autoDialTask(context),
    randomWalkTask(context),
    selfLookupTask(context),
    routingTableRefreshTask(context),
    republishTask(context),
    replicationTask(context),
    expireRecordsTask(context)
  ]
}

function relayReservationTask ({ relay }: NetworkTaskContext): TaskDefinition {
  const backoff = new Backoff(RELAY_BACKOFF_INITIAL_MS, RELAY_BACKOFF_MAX_MS)
  return {
    id: 'relay-reservation',
    title: 'Relay reservation',
    description: 'Checks that the tab holds a reservation on a relay that is up; redials the bootnodes with capped exponential backoff when it does not.',
    intervalMs: TASK_INTERVALS.relayReservation,
    timeoutMs: 20_000,
    async run (signal): Promise<TaskOutcome> {
      const check = await relay.ensureReserved(signal)
      if (check.reserved) {
        backoff.reset()
        return { summary: `${check.redialed ? 're-reserved' : 'reserved'} on ${check.relayPeerId.slice(-8)}` }
      }
      const retryInMs = backoff.fail()
      return { summary: `no relay reachable (attempt ${backoff.attempts}); next try in ${Math.round(retryInMs / 1000)} s`, nextRunInMs: retryInMs }
    }
  }
}

function autoDialTask ({ node, kad, maxDirectConnections }: NetworkTaskContext): TaskDefinition {
  const dialing = new Set<string>()
  return {
    id: 'auto-dial',
    title: 'Auto-dial',
    description: `Opens direct WebRTC connections to peers from the routing table, up to ${maxDirectConnections}, never two to one peer.`,
    intervalMs: TASK_INTERVALS.autoDial,
    initialDelayMs: 1_000,
    timeoutMs: 30_000,
    async run (signal): Promise<TaskOutcome> {
      const self = node.peerId.toString()
      const direct = directPeers(node)
      const readded = await offerDirectPeersMissingFromTable(node, kad, direct, signal)
      const candidates: PeerId[] = []
      for (const contact of kad.routingTablePeers()) {
        const peer = contact.peerId.toString()
        if (direct.has(peer) || dialing.has(peer)) continue
        // Both ends would otherwise dial at once and end up with two connections: the smaller
        // ID dials, unless this tab still has too few direct connections.
        if (self > peer && direct.size >= MIN_DIRECT_CONNECTIONS) continue
        candidates.push(contact.peerId)
      }
      const budget = Math.max(0, Math.min(DIALS_PER_RUN, maxDirectConnections - direct.size - dialing.size))
      let opened = 0
      let failed = 0
      await Promise.all(candidates.slice(0, budget).map(async (peer) => {
        const known = await node.peerStore.get(peer, { signal }).then(info => info.addresses.map(address => address.multiaddr), () => [])
        const address = webrtcAddressFor(peer, known)
        if (address == null) return
        dialing.add(peer.toString())
        try {
          await node.dial(address, { signal: AbortSignal.any([signal, AbortSignal.timeout(15_000)]) })
          opened++
        } catch {
          failed++
        } finally {
          dialing.delete(peer.toString())
        }
      }))
      const total = directPeers(node).size
      return { summary: `${total} direct connection(s)${opened + failed > 0 ? `; opened ${opened}, failed ${failed}` : ''}${readded > 0 ? `; ${readded} directly connected peer(s) offered to the routing table again` : ''}` }
    }
  }
}

/**
 * kad-dht offers a peer to its routing table once, when the peer's first unlimited connection
 * is identified, and pings it first; when that ping fails (e.g. it ran on a duplicate connection
 * that was closed under it) the peer stays out for as long as it stays connected. Offer such
 * peers again: directly connected, speaking webkad's DHT, yet not in a k-bucket.
 */
export async function offerDirectPeersMissingFromTable (node: WebkadNode, kad: KadInternals, direct: Set<string>, signal: AbortSignal): Promise<number> {
  const inTable = new Set(kad.routingTablePeers().map(contact => contact.peerId.toString()))
  let offered = 0
  for (const connection of node.getConnections()) {
    const peer = connection.remotePeer
    if (!direct.has(peer.toString()) || inTable.has(peer.toString())) continue
    inTable.add(peer.toString()) // once per peer, whatever its number of connections
    const info = await node.peerStore.get(peer, { signal }).catch(() => undefined)
    if (info == null || !info.protocols.includes(DHT_PROTOCOL)) continue
    offered++
    kad.onPeerConnect({ id: peer, multiaddrs: info.addresses.map(address => address.multiaddr) }).catch(() => {})
  }
  return offered
}

/** Peers this node has an open direct (WebRTC) connection to. */
function directPeers (node: WebkadNode): Set<string> {
  return new Set(node.getConnections().filter(connection => WebRTC.matches(connection.remoteAddr) && connection.status === 'open').map(connection => connection.remotePeer.toString()))
}

function randomWalkTask ({ dht, kad, node, trace }: NetworkTaskContext): TaskDefinition {
  const sparse = new Backoff(SPARSE_WALK_INITIAL_MS, TASK_INTERVALS.randomWalk)
  return {
    id: 'random-walk',
    title: 'Random walk',
    description: 'Looks up a random key: every peer met on the way is a candidate for the routing table.',
    intervalMs: TASK_INTERVALS.randomWalk,
    initialDelayMs: 4_000,
    async run (signal): Promise<TaskOutcome> {
      const before = kad.routingTable.size
      const target = crypto.getRandomValues(new Uint8Array(32))
      const result = await dht.lookupClosestPeers(target, 'random walk', { signal, onProgress: trace() })
      const summary = `${result.peers.length} close peer(s) found; routing table ${before} → ${kad.routingTable.size}`
      const direct = directPeers(node).size
      if (direct >= MIN_DIRECT_CONNECTIONS) { sparse.reset(); return { summary } }
      const nextRunInMs = sparse.fail()
      return { summary: `${summary}; ${direct} direct connection(s), walking again in ${Math.round(nextRunInMs / 1000)} s`, nextRunInMs }
    }
  }
}

function selfLookupTask ({ dht, kad, node, trace }: NetworkTaskContext): TaskDefinition {
  return {
    id: 'self-lookup',
    title: 'Self-lookup',
    description: 'Looks up this tab\'s own ID, which fills the nearest k-buckets and tells close peers about this tab (kad-dht also runs its own self-query).',
    intervalMs: TASK_INTERVALS.selfLookup,
    initialDelayMs: 2_000,
    async run (signal): Promise<TaskOutcome> {
      const result = await dht.lookupClosestPeers(node.peerId.toMultihash().bytes, 'self', { signal, onProgress: trace() })
      return { summary: `${result.peers.length} closest peer(s); routing table ${kad.routingTable.size}` }
    }
  }
}

function routingTableRefreshTask ({ node, kad }: NetworkTaskContext): TaskDefinition {
  return {
    id: 'routing-table-refresh',
    title: 'Routing-table refresh',
    description: 'Asks kad-dht to refresh every bucket (kad-dht\'s own refresh, run on demand).',
    intervalMs: TASK_INTERVALS.routingTableRefresh,
    async run (): Promise<TaskOutcome> {
      // refreshRoutingTable() returns before the refresh queries finish.
      await node.services.dht.refreshRoutingTable()
      return { summary: `refresh started; routing table ${kad.routingTable.size}` }
    }
  }
}

function republishTask ({ dht, authored, trace }: NetworkTaskContext): TaskDefinition {
  return {
    id: 'republish',
    title: 'Republish',
    description: 'Publishes each record this tab wrote again at half its lifetime, so it never expires while the tab is open.',
    intervalMs: TASK_INTERVALS.republish,
    initialDelayMs: 5_000,
    async run (signal): Promise<TaskOutcome> {
      const now = Date.now()
      const due = authored.due(now)
      let ok = 0
      for (const record of due) {
        try {
          const result = await dht.put(record.key, record.payload, { signal, lifetimeMs: record.lifetimeMs, onProgress: trace() })
          authored.published({ key: record.key, payload: record.payload, lifetimeMs: record.lifetimeMs, sequence: result.sequence, publishedAt: Date.now(), expiresAt: result.expiresAt })
          ok++
        } catch (err) {
          authored.failed(record.key, (err as Error).message, Date.now() + 5_000)
        }
      }
      const nextIn = authored.nextDueIn(Date.now())
      return {
        summary: due.length === 0 ? 'nothing due' : `republished ${ok} of ${due.length}`,
        nextRunInMs: Math.max(1_000, Math.min(TASK_INTERVALS.republish, nextIn))
      }
    }
  }
}

function replicationTask ({ dht, holding, trace, replicationIntervalMs }: NetworkTaskContext): TaskDefinition {
  const intervalMs = replicationIntervalMs ?? TASK_INTERVALS.replicate
  return {
    id: 'replicate-records',
    title: 'Replicate held records',
    description: 'Re-stores each record this tab holds on the current k closest peers to its key that lack it (records received within the interval and cached copies are skipped; expiry never changes).',
    intervalMs,
    async run (signal): Promise<TaskOutcome> {
      const round = await replicateHeldRecords(holding, dht, { intervalMs, signal, onProgress: trace })
      return { summary: describeReplicationRound(round) }
    }
  }
}

function expireRecordsTask ({ holding }: NetworkTaskContext): TaskDefinition {
  return {
    id: 'expire-records',
    title: 'Drop expired records',
    description: 'Deletes records this tab holds once their lifetime has passed, and cached copies once their shorter time has.',
    intervalMs: TASK_INTERVALS.expireRecords,
    async run (signal): Promise<TaskOutcome> {
      const { kept, removed } = await holding.sweep({ signal })
      return { summary: `${removed} expired record(s) dropped, ${kept} kept` }
    }
  }
}
