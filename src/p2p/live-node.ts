import { DhtOperations } from './dht/dht-operations.ts'
import { kadInternals } from './dht/kad-internals.ts'
import { forgetDisconnectedPeers, waitForRoutingTablePeer, watchRoutingTable } from './dht/routing-table-view.ts'
import { watchConnections } from './network/connections.ts'
import { closeDuplicateWebRTCConnections } from './network/duplicate-connections.ts'
import { createWebkadNode } from './node.ts'
import type { KadInternals } from './dht/kad-internals.ts'
import type { RecordHolding } from './dht/record-holding.ts'
import type { RoutingTableSnapshot } from './dht/routing-table-view.ts'
import type { ConnectionSummary } from './network/connections.ts'
import type { WebkadNode, WebkadNodeInit } from './node.ts'
import type { ReadableStore } from './stores/store.ts'
import { KEEP_ALIVE } from '@libp2p/interface'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'

/** A tab's running node with the DHT operations on it and the live views the UI shows. */
export interface LiveNode {
  node: WebkadNode
  dht: DhtOperations
  kad: KadInternals
  /** The node's own datastore (peer store, the records it holds for others). */
  datastore: Datastore
  /** The record layer of that datastore: what the node holds, how it arrived, until when. */
  holding: RecordHolding
  connections: ReadableStore<readonly ConnectionSummary[]>
  routingTable: ReadableStore<RoutingTableSnapshot>
  /**
   * Resolves when the DHT can serve a query at once: `relay` is in the routing table; then queries
   * no longer wait for kad-dht's first self-query.
   */
  dhtReady(relay: PeerId, signal: AbortSignal): Promise<void>
  /** Detaches the views and stops the node. */
  stop(): Promise<void>
}

export type LiveNodeInit = Pick<WebkadNodeInit, 'bootnodes' | 'iceServers' | 'webrtc' | 'chatDatastore' | 'dht'> & {
  privateKey: PrivateKey
  /** The tab's record layer over its datastore (IndexedDB, or memory), kept across reconnects. */
  holding: RecordHolding
}

/** Starts a tab's node on its datastore (records guarded and noted) and the views that follow it. */
export async function startLiveNode ({ holding, ...init }: LiveNodeInit): Promise<LiveNode> {
  const datastore = holding.datastore
  const node = await createWebkadNode({ ...init, datastore, start: false })
  await forgetKeepAliveTags(node)
  await node.start()
  const kad = kadInternals(node.services.dht)
  holding.attach(kad, () => node.getPeers())
  const routingTable = watchRoutingTable(node, kad)
  const connections = watchConnections(node)
  const stopDeduplicating = closeDuplicateWebRTCConnections(node)
  const stopForgetting = forgetDisconnectedPeers(node, kad)
  return {
    node,
    dht: new DhtOperations(node, init.privateKey),
    kad,
    datastore,
    holding,
    connections: connections.store,
    routingTable: routingTable.store,
    async dhtReady (relay, signal) {
      await waitForRoutingTablePeer(kad, relay, signal)
      kad.releaseQueryHold()
    },
    async stop () {
      stopForgetting()
      stopDeduplicating()
      connections.stop()
      routingTable.stop()
      await node.stop()
    }
  }
}

/**
 * The peer store outlives the node (IndexedDB): a relay it held a reservation on is still tagged
 * keep-alive. On start the circuit transport would then redial and re-reserve it by itself while
 * the session connects to the relay the user chose, and the two raced (a reloaded tab sometimes
 * got no reservation). Starting untagged, the session's connect is the only way in, as on a first start.
 */
async function forgetKeepAliveTags (node: WebkadNode): Promise<void> {
  const tagged = await node.peerStore.all({ filters: [(peer) => [...peer.tags.keys()].some(tag => tag.startsWith(KEEP_ALIVE))] })
  await Promise.all(tagged.map(async (peer) => {
    const tags = Object.fromEntries([...peer.tags.keys()].filter(tag => tag.startsWith(KEEP_ALIVE)).map(tag => [tag, undefined]))
    await node.peerStore.merge(peer.id, { tags })
  }))
}
