import type { IdentitySource, KeyValueStorage } from './identity.ts'
import type { PrivateKey } from '@libp2p/interface'
import type { KadDHTInit } from '@libp2p/kad-dht'
import type { Datastore } from 'interface-datastore'

/** What WebkadSession's constructor and methods take and return (kept here so the facade stays thin). */

export interface FindPeerResult {
  peerId: string
  addresses: string[]
  durationMs: number
  /** FIND_NODE messages sent during the lookup. */
  queriesSent: number
  /** Who supplied the addresses: a remote peer (e.g. the relay's k-bucket) or this tab's own table. */
  answeredBy: string
  /** The lookup's trace in `queries`. */
  queryId: string
}

export interface PingResult {
  peerId: string
  rttMs: number
}

export interface SessionInit {
  privateKey: PrivateKey
  identitySource: IdentitySource
  iceServers?: RTCIceServer[]
  /** false turns WebRTC off (chat then runs over the relay). @default true */
  webrtc?: boolean
  /** Opens libp2p's datastore for this identity (IndexedDB in the browser); in memory if omitted. */
  openNodeDatastore?: (peerId: string) => Promise<Datastore>
  /** Overrides of the DHT configuration (`?k=` in the page sets the bucket size). */
  dht?: Partial<KadDHTInit>
  /** Holder replication interval of the scheduler. @default TASK_INTERVALS.replicate */
  replicationIntervalMs?: number
  /** Opens the chat store for this identity (IndexedDB in the browser); in memory if omitted. */
  openChatDatastore?: (peerId: string) => Promise<Datastore>
  /** Remembers the bootnodes of the last successful Connect so a reload reconnects (sessionStorage). */
  storage?: KeyValueStorage & { removeItem(key: string): void }
  /** Direct WebRTC connections the auto-dial task aims for. @default 8 */
  maxDirectConnections?: number
  /** false: no background tasks (discovery stays manual, as in the original demo). @default true */
  scheduler?: boolean
  /** false: a stream per DHT request, as stock kad-dht does (the bench's baseline). @default true */
  reuseDhtStreams?: boolean
}


/** sessionStorage entry with the bootnodes of the last successful Connect. */
export const LAST_BOOTNODES_KEY = 'webkad:bootnodes'
