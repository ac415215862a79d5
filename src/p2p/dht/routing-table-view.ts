import { classifyTransport } from '../network/connections.ts'
import { createCoalescedStore } from '../stores/store.ts'
import { commonPrefixLength, compactDistance, kadIdOfPeer, toHex, xorDistance, distanceLog2 } from './kad-math.ts'
import type { KadInternals, RoutingTableEventName } from './kad-internals.ts'
import type { ConnectionTransport } from '../network/connections.ts'
import type { ReadableStore } from '../stores/store.ts'
import type { WebkadNode } from '../node.ts'
import type { PeerId } from '@libp2p/interface'

export type PeerConnectionState = ConnectionTransport | 'none'

export interface RoutingTablePeer {
  peerId: string
  kadId: string
  /** XOR distance to this tab, compact (`2^n · hex…`) and as log2 for drawing. */
  distance: string
  distanceLog2: number
  /** When the peer last answered a routing-table ping (ms epoch); 0 = never pinged. */
  lastPing: number
  /** Round trip of the connection's last ping (libp2p connection monitor), if known. */
  rttMs?: number
  /** The best connection to the peer: webrtc > websocket > relayed > none. */
  connection: PeerConnectionState
}

/** Peers grouped by their common-prefix length with this tab's Kademlia ID, highest first. */
export interface RoutingTableBucket {
  commonPrefixLength: number
  peers: RoutingTablePeer[]
}

export interface RoutingTableSnapshot {
  localKadId: string
  kBucketSize: number
  size: number
  buckets: RoutingTableBucket[]
}

const CONNECTION_RANK: Record<PeerConnectionState, number> = { webrtc: 3, websocket: 2, relayed: 1, other: 1, none: 0 }

export const EMPTY_ROUTING_TABLE: RoutingTableSnapshot = { localKadId: '', kBucketSize: 20, size: 0, buckets: [] }

/**
 * A live view of the tab's k-buckets. It rebuilds the snapshot when the routing table or a
 * connection changes (coalesced), never on a timer.
 */
export function watchRoutingTable (node: WebkadNode, kad: KadInternals): { store: ReadableStore<RoutingTableSnapshot>, stop: () => void } {
  const localKadId = kadIdOfPeer(node.peerId)
  const store = createCoalescedStore(() => buildSnapshot(node, kad, localKadId))
  const tableEvents: RoutingTableEventName[] = ['peer:add', 'peer:remove', 'peer:ping']
  for (const name of tableEvents) kad.routingTable.addEventListener(name, store.invalidate)
  node.addEventListener('connection:open', store.invalidate)
  node.addEventListener('connection:close', store.invalidate)
  return {
    store,
    stop: () => {
      store.stop()
      for (const name of tableEvents) kad.routingTable.removeEventListener(name, store.invalidate)
      node.removeEventListener('connection:open', store.invalidate)
      node.removeEventListener('connection:close', store.invalidate)
    }
  }
}

export function buildSnapshot (node: WebkadNode, kad: KadInternals, localKadId: Uint8Array): RoutingTableSnapshot {
  const byPrefix = new Map<number, RoutingTablePeer[]>()
  for (const contact of kad.routingTablePeers()) {
    const distance = xorDistance(contact.kadId, localKadId)
    let connection: PeerConnectionState = 'none'
    let rttMs: number | undefined
    for (const open of node.getConnections(contact.peerId)) {
      const transport = classifyTransport(open.remoteAddr)
      if (CONNECTION_RANK[transport] > CONNECTION_RANK[connection]) connection = transport
      if (open.rtt != null && (rttMs == null || open.rtt < rttMs)) rttMs = open.rtt
    }
    const prefix = commonPrefixLength(contact.kadId, localKadId)
    const peers = byPrefix.get(prefix) ?? []
    peers.push({
      peerId: contact.peerId.toString(),
      kadId: toHex(contact.kadId),
      distance: compactDistance(distance),
      distanceLog2: distanceLog2(distance),
      lastPing: contact.lastPing,
      rttMs,
      connection
    })
    byPrefix.set(prefix, peers)
  }
  const buckets = [...byPrefix.entries()]
    .sort(([a], [b]) => b - a)
    .map(([commonPrefixLength, peers]) => ({ commonPrefixLength, peers: peers.sort((a, b) => a.distanceLog2 - b.distanceLog2) }))
  return { localKadId: toHex(localKadId), kBucketSize: kad.routingTable.kBucketSize, size: kad.routingTable.size, buckets }
}

/**
 * Resolves once `peer` is in the routing table (any peer but this node when omitted); rejects
 * with the signal's reason when it aborts first.
 */
export async function waitForRoutingTablePeer (kad: KadInternals, peer: PeerId | undefined, signal: AbortSignal): Promise<void> {
  const present = (): boolean => peer == null ? kad.routingTable.size > 0 : kad.routingTablePeers().some(contact => contact.peerId.equals(peer))
  if (present()) return
  signal.throwIfAborted()
  await new Promise<void>((resolve, reject) => {
    const check = (): void => {
      if (!present()) return
      cleanup()
      resolve()
    }
    const onAbort = (): void => { cleanup(); reject(signal.reason) }
    const cleanup = (): void => {
      kad.routingTable.removeEventListener('peer:add', check)
      signal.removeEventListener('abort', onAbort)
    }
    kad.routingTable.addEventListener('peer:add', check)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * A peer that disconnects leaves the k-buckets at once, not after kad-dht's next failed ping: a
 * closed tab says no goodbye, and lookups would keep asking it. Returns the function that stops it.
 */
export function forgetDisconnectedPeers (node: Pick<WebkadNode, 'addEventListener' | 'removeEventListener'>, kad: Pick<KadInternals, 'routingTable'>): () => void {
  const forget = (event: CustomEvent<PeerId>): void => { kad.routingTable.remove(event.detail).catch(() => {}) }
  node.addEventListener('peer:disconnect', forget)
  return () => { node.removeEventListener('peer:disconnect', forget) }
}
