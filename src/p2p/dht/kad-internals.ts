import type { KadDHT } from '@libp2p/kad-dht'
import type { PeerId, PeerInfo } from '@libp2p/interface'

/**
 * The parts of @libp2p/kad-dht's KadDHT class that webkad needs but the public `KadDHT`
 * interface does not expose. Reading them through this one adapter keeps the dependency on
 * library internals in one place; `kadInternals` checks their shape at runtime and its unit
 * test fails loudly when a kad-dht upgrade changes them.
 */
export interface KadRoutingTableInternals {
  readonly size: number
  remove(peer: PeerId): Promise<void>
  addEventListener(type: 'peer:add' | 'peer:remove', listener: (event: CustomEvent<PeerId>) => void): void
  removeEventListener(type: 'peer:add' | 'peer:remove', listener: (event: CustomEvent<PeerId>) => void): void
}

export interface KadInternals {
  routingTable: KadRoutingTableInternals
  /** Offers a peer to the routing table (it is pinged first when its bucket is full). */
  onPeerConnect(peer: PeerInfo): Promise<void>
}

/** Thrown when @libp2p/kad-dht no longer has the internals webkad reads. */
export class KadInternalsChangedError extends Error {
  override readonly name = 'KadInternalsChangedError'
}

export function kadInternals (dht: KadDHT): KadInternals {
  const candidate = dht as unknown as Partial<KadInternals> & { routingTable?: Partial<KadRoutingTableInternals> }
  const table = candidate.routingTable
  if (typeof candidate.onPeerConnect !== 'function' ||
    table == null ||
    typeof table.remove !== 'function' ||
    typeof table.addEventListener !== 'function' ||
    typeof table.size !== 'number') {
    throw new KadInternalsChangedError('@libp2p/kad-dht internals changed: routingTable/onPeerConnect not found')
  }
  return {
    routingTable: table as KadRoutingTableInternals,
    onPeerConnect: candidate.onPeerConnect.bind(dht)
  }
}
