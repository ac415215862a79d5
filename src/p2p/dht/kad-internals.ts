import { MessageType, Record as Libp2pRecord } from '@libp2p/kad-dht'
import { Key } from 'interface-datastore'
import { KadInternalsChangedError } from '../errors.ts'
import { equals, toString } from 'uint8arrays'
import type { KadDHT, QueryEvent } from '@libp2p/kad-dht'
import type { AbortOptions, PeerId, PeerInfo } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'

/**
 * The one door into @libp2p/kad-dht's internals: the parts of its KadDHT class that webkad needs
 * but the public `KadDHT` interface does not expose. `kadInternals` checks their shape at runtime
 * (its unit test fails loudly when a kad-dht upgrade changes them) and builds one adapter per DHT.
 * Lint forbids casting `services.dht` anywhere else.
 */
export type RoutingTableEventName = 'peer:add' | 'peer:remove' | 'peer:ping'

/**
 * Where kad-dht keeps records in the node's datastore: `/dht/record/<base32 key>` (its default
 * datastorePrefix '/dht'), each a serialized libp2p Record. The adapter checks the live prefix.
 */
export const KAD_RECORD_PREFIX = '/dht/record'

/** The datastore key kad-dht stores the record for `key` under. */
export function kadRecordKey (key: Uint8Array): Key {
  return new Key(`${KAD_RECORD_PREFIX}/${toString(key, 'base32')}`, false)
}

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

interface KBucketsWithVerify {
  verify?: unknown
  localPeer?: { kadId?: Uint8Array, peerId?: PeerId }
}

/** kad-dht's routing-table refresh, which the refresh patch's test drives directly. */
export interface KadRefreshInternals {
  commonPrefixLengthRefreshedAt: Date[]
  peerRouting: { getClosestPeers(key: Uint8Array, options?: unknown): AsyncIterable<unknown> }
  refreshTimeoutId?: ReturnType<typeof setTimeout>
  _maxCommonPrefix(): number
  _refreshCommonPrefixLength(cpl: number, lastRefresh: Date, force: boolean): Promise<void>
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
  /**
   * Adds new contacts without pinging them first. kad-dht pings every new contact; in a
   * one-process simulation those pings dominate the build (bench only: a private switch).
   */
  skipPingBeforeAdd(): void
  /** This node's Kademlia ID, as kad-dht's k-buckets hold it. */
  localKadId(): Uint8Array
  /** kad-dht's routing-table refresh (tests of the refresh patch only). */
  routingTableRefresh(): KadRefreshInternals
  /**
   * Lets queries run before kad-dht's first self-query has finished (its QueryManager holds
   * them until then; the self-query dials close peers on the way and can take 0.5-2 s).
   */
  releaseQueryHold(): void
}

const adapters = new WeakMap<KadDHT, KadInternals>()

/** The adapter of this DHT, built once per DHT instance. */
export function kadInternals (dht: KadDHT): KadInternals {
  let adapter = adapters.get(dht)
  if (adapter == null) {
    adapter = buildAdapter(dht)
    adapters.set(dht, adapter)
  }
  return adapter
}

function buildAdapter (dht: KadDHT): KadInternals {
  const candidate = dht as unknown as {
    onPeerConnect?: KadInternals['onPeerConnect']
    routingTable?: Partial<KadRoutingTableInternals>
    routingTableRefresh?: Partial<KadRefreshInternals>
    queryManager?: { initialQuerySelfHasRun?: { resolve?: () => void } }
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
  if (contentFetching.datastorePrefix !== KAD_RECORD_PREFIX) {
    throw new KadInternalsChangedError(`@libp2p/kad-dht keeps records under ${contentFetching.datastorePrefix}, not ${KAD_RECORD_PREFIX}`)
  }
  const datastore = contentFetching.components.datastore
  const routingTable = table as KadRoutingTableInternals
  const sendRequest = network.sendRequest.bind(network)
  // kb is null while the DHT is stopped.
  const buckets = (): (KadRoutingTableInternals['kb'] & KBucketsWithVerify) | undefined =>
    (routingTable as { kb?: KadRoutingTableInternals['kb'] | null }).kb ?? undefined
  return {
    routingTable,
    onPeerConnect: candidate.onPeerConnect.bind(dht),
    routingTablePeers () {
      const kb = buckets()
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
      const record = new Libp2pRecord(key, value, new Date()).serialize()
      await datastore.put(kadRecordKey(key), record, options)
    },
    skipPingBeforeAdd () {
      const kb = buckets()
      if (kb == null || typeof kb.verify !== 'function') {
        throw new KadInternalsChangedError('@libp2p/kad-dht internals changed: routingTable.kb.verify not found (ping-before-add switch)')
      }
      // The ping it skips also kept the node itself out: a FIND_NODE for this node's own ID is
      // answered with this node's own record (kad-dht looks the key up as a peer ID), and kad-dht
      // offers every peer an answer names to its table. A ping to oneself fails; this must too.
      kb.verify = async (contact: { peerId: PeerId }) => !contact.peerId.equals(kb.localPeer?.peerId)
    },
    localKadId () {
      const kadId = buckets()?.localPeer?.kadId
      if (!(kadId instanceof Uint8Array)) throw new KadInternalsChangedError('@libp2p/kad-dht internals changed: routingTable.kb.localPeer.kadId not found')
      return kadId
    },
    releaseQueryHold () {
      const manager = candidate.queryManager
      if (manager == null || typeof manager !== 'object') throw new KadInternalsChangedError('@libp2p/kad-dht internals changed: queryManager not found')
      // Cleared by the manager once a query has waited for it.
      manager.initialQuerySelfHasRun?.resolve?.()
    },
    routingTableRefresh () {
      const refresh = candidate.routingTableRefresh
      if (typeof refresh?._refreshCommonPrefixLength !== 'function' || typeof refresh._maxCommonPrefix !== 'function' || !Array.isArray(refresh.commonPrefixLengthRefreshedAt)) {
        throw new KadInternalsChangedError('@libp2p/kad-dht internals changed: routingTableRefresh not found')
      }
      return refresh as KadRefreshInternals
    }
  }
}
