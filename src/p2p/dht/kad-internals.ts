import { MessageType, Record as Libp2pRecord } from '@libp2p/kad-dht'
import { Key } from 'interface-datastore'
import { KadInternalsChangedError } from '../errors.ts'
import { equals, toString } from 'uint8arrays'
import type { KadDHT, QueryEvent } from '@libp2p/kad-dht'
import type { AbortOptions, PeerId, PeerInfo } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'

/**
 * The parts of @libp2p/kad-dht's KadDHT class that webkad needs but the public `KadDHT`
 * interface does not expose. Reading them through this one adapter keeps the dependency on
 * library internals in one place; `kadInternals` checks their shape at runtime and its unit
 * test fails loudly when a kad-dht upgrade changes them.
 */
export type RoutingTableEventName = 'peer:add' | 'peer:remove' | 'peer:ping'

/** A contact in a k-bucket: its Kademlia ID and when it last answered a ping (ms epoch, 0 = never). */
export interface KadBucketPeer {
  kadId: Uint8Array
  peerId: PeerId
  lastPing: number
}

export interface KadRoutingTableInternals {
  readonly size: number
  readonly kBucketSize: number
  remove(peer: PeerId): Promise<void>
  addEventListener(type: RoutingTableEventName, listener: (event: CustomEvent<PeerId>) => void): void
  removeEventListener(type: RoutingTableEventName, listener: (event: CustomEvent<PeerId>) => void): void
  kb: { toIterable(): Iterable<KadBucketPeer> }
}

interface KadContentFetchingInternals {
  /** Where records live in the datastore ('/dht/record' by default). */
  datastorePrefix: string
  components: { datastore: Datastore }
}

interface KadNetworkInternals {
  sendRequest(to: PeerId, message: { type: MessageType, key: Uint8Array, record?: Uint8Array }, options: AbortOptions & { path: { index: number, queued: number, running: number, total: number } }): AsyncIterable<QueryEvent>
}

export interface KadInternals {
  routingTable: KadRoutingTableInternals
  /** Offers a peer to the routing table (it is pinged first when its bucket is full). */
  onPeerConnect(peer: PeerInfo): Promise<void>
  /** Every contact in the k-buckets, straight from kad-dht's trie (not the peer store). */
  routingTablePeers(): KadBucketPeer[]
  /**
   * Sends PUT_VALUE with `value` for `key` to one peer (kad-dht's public API only puts to the k
   * closest). Resolves true when the peer echoed the record back, i.e. stored it.
   */
  putValueTo(peer: PeerId, key: Uint8Array, value: Uint8Array, options?: AbortOptions & { onEvent?(event: QueryEvent): void }): Promise<boolean>
  /** Stores a record where this node's kad-dht serves GET_VALUE from (what its put does first). */
  storeLocally(key: Uint8Array, value: Uint8Array, options?: AbortOptions): Promise<void>
}

export function kadInternals (dht: KadDHT): KadInternals {
  const candidate = dht as unknown as {
    onPeerConnect?: KadInternals['onPeerConnect']
    routingTable?: Partial<KadRoutingTableInternals>
    network?: Partial<KadNetworkInternals>
    contentFetching?: Partial<KadContentFetchingInternals>
  }
  const table = candidate.routingTable
  const network = candidate.network
  const contentFetching = candidate.contentFetching
  if (typeof candidate.onPeerConnect !== 'function' ||
    typeof contentFetching?.datastorePrefix !== 'string' ||
    typeof contentFetching.components?.datastore?.put !== 'function' ||
    table == null ||
    typeof table.remove !== 'function' ||
    typeof table.addEventListener !== 'function' ||
    typeof table.size !== 'number' ||
    typeof table.kBucketSize !== 'number' ||
    typeof network?.sendRequest !== 'function') {
    throw new KadInternalsChangedError('@libp2p/kad-dht internals changed: routingTable, onPeerConnect, network or contentFetching not found')
  }
  const recordPrefix = contentFetching.datastorePrefix
  const datastore = contentFetching.components.datastore
  const routingTable = table as KadRoutingTableInternals
  const sendRequest = network.sendRequest.bind(network)
  return {
    routingTable,
    onPeerConnect: candidate.onPeerConnect.bind(dht),
    routingTablePeers () {
      // kb is null while the DHT is stopped.
      const kb = (routingTable as { kb?: KadRoutingTableInternals['kb'] | null }).kb
      if (kb == null) return []
      if (typeof kb.toIterable !== 'function') throw new KadInternalsChangedError('@libp2p/kad-dht internals changed: routingTable.kb.toIterable not found')
      return [...kb.toIterable()]
    },
    async putValueTo (peer, key, value, options = {}) {
      const record = new Libp2pRecord(key, value, new Date()).serialize()
      for await (const event of sendRequest(peer, { type: MessageType.PUT_VALUE, key, record }, { ...options, path: { index: -1, queued: 0, running: 0, total: 0 } })) {
        options.onEvent?.(event)
        if (event.name === 'PEER_RESPONSE') return event.record != null && equals(event.record.value, value)
        if (event.name === 'QUERY_ERROR') return false
      }
      return false
    },
    async storeLocally (key, value, options = {}) {
      // kad-dht's own layout: `${datastorePrefix}/record/<base32 key>` holding a serialized Libp2pRecord.
      const record = new Libp2pRecord(key, value, new Date()).serialize()
      await datastore.put(new Key(`${recordPrefix}/${toString(key, 'base32')}`), record, options)
    }
  }
}
