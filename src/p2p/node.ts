import { generateKeyPair } from '@libp2p/crypto/keys'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify, identifyPush } from '@libp2p/identify'
import { noise } from '@libp2p/noise'
import { ping } from '@libp2p/ping'
import { webRTC, webRTCDirect } from '@libp2p/webrtc'
import { webSockets } from '@libp2p/websockets'
import { yamux } from '@libp2p/yamux'
import { createLibp2p } from 'libp2p'
import { webkadDHT } from './dht/dht-config.ts'
import { webkadConnectionGater } from './network/connection-gater.ts'
import { withoutRelaySearch } from './network/relay-discovery.ts'
import { webkadChat } from './services/chat/index.ts'
import type { ChatService, ChatServiceInit } from './services/chat/index.ts'
import { webkadBlocks } from './services/blocks/index.ts'
import { guardProviderRecords } from './files/provider-guard.ts'
import { MemoryDatastore } from 'datastore-core'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { BlockService } from './services/blocks/index.ts'
import type { Datastore } from 'interface-datastore'
import type { Identify, IdentifyPush } from '@libp2p/identify'
import type { KadDHT, KadDHTInit } from '@libp2p/kad-dht'
import type { ConnectionGater, Libp2p, PrivateKey } from '@libp2p/interface'
import type { Libp2pOptions } from 'libp2p'
import type { Ping } from '@libp2p/ping'
import type { Multiaddr } from '@multiformats/multiaddr'

export type WebkadServices = {
  identify: Identify
  identifyPush: IdentifyPush
  ping: Ping
  dht: KadDHT
  chat: ChatService
  blocks: BlockService
}

/** A webkad node (a tab, or its stand-in in Node tests and the simulation), typed with its services. */
export type WebkadNode = Libp2p<WebkadServices>

export interface WebkadNodeInit {
  /** @default a fresh Ed25519 key */
  privateKey?: PrivateKey
  /** The relay(s) the user chose; decide whether local addresses may be dialled. @default [] */
  bootnodes?: Multiaddr[]
  /** STUN/TURN servers for WebRTC. Empty by default: on one machine or a LAN host candidates suffice. */
  iceServers?: RTCIceServer[]
  /** Chat history and outbox (IndexedDB per identity in the browser). @default in memory */
  chatDatastore?: Datastore
  /** Chat limits and timings (tests shorten them). */
  chat?: Omit<ChatServiceInit, 'datastore'>
  /** libp2p's own datastore (peer store, DHT records held for others). @default in memory */
  datastore?: Datastore
  /** false: no WebRTC at all (to see, and test, chat falling back to the relay). @default true */
  webrtc?: boolean
  /**
   * Transports in place of a tab's (WebSockets, WebRTC, circuit relay): `[memory()]` for Node
   * tests and the simulation. With it, `listen` is required.
   */
  transports?: NonNullable<Libp2pOptions['transports']>
  /** Listen addresses. @default a relay reservation, plus /webrtc when WebRTC is on */
  listen?: string[]
  /** @default [noise()]; the simulation may pass plaintext() to save CPU (and says so). */
  connectionEncrypters?: NonNullable<Libp2pOptions['connectionEncrypters']>
  /** false turns libp2p's connection monitor off (the simulation: thousands of pings a second). @default true */
  connectionMonitor?: boolean
  /** @default webkad's gater for `bootnodes` */
  connectionGater?: ConnectionGater
  /** Overrides of libp2p's connection manager, e.g. the browser's connection cap in Node. */
  connectionManager?: Libp2pOptions['connectionManager']
  /** Overrides of webkad's DHT configuration (k, alpha, paths, prefix length). */
  dht?: Partial<KadDHTInit>
  /** false returns the node unstarted. @default true */
  start?: boolean
}

/**
 * The one place a webkad node is created: the app's tabs, the Node integration and hostile tests,
 * and the simulated network, so each exercises what ships. The caller owns `stop()`.
 */
export async function createWebkadNode (init: WebkadNodeInit = {}): Promise<WebkadNode> {
  const webrtcEnabled = init.webrtc ?? true
  if (init.transports != null && init.listen == null) throw new TypeError('createWebkadNode: `transports` needs `listen`')
  const privateKey = init.privateKey ?? await generateKeyPair('Ed25519')
  return await createLibp2p({
    privateKey,
    start: init.start ?? true,
    // ADD_PROVIDER floods are slowed and bounded (files/provider-guard.ts); own records are not limited.
    datastore: guardProviderRecords(init.datastore ?? new MemoryDatastore(), { self: peerIdFromPrivateKey(privateKey).toString() }),
    addresses: {
      // Reserve a slot on the relay (circuit) and accept WebRTC dials signalled through it.
      listen: init.listen ?? (webrtcEnabled ? ['/p2p-circuit', '/webrtc'] : ['/p2p-circuit'])
    },
    transports: init.transports ?? [
      webSockets(),
      ...(webrtcEnabled
        ? [webRTC({
            rtcConfiguration: { iceServers: init.iceServers ?? [] },
            // The default (16 KiB including framing) cut every 16 KiB write in two messages; the
            // other end is always a webkad tab, and browsers accept 64 KiB or more per message.
            dataChannel: { maxMessageSize: 32 * 1024 }
          }), webRTCDirect({ rtcConfiguration: { iceServers: [] } })]
        : []),
      withoutRelaySearch(circuitRelayTransport())
    ],
    connectionEncrypters: init.connectionEncrypters ?? [noise()],
    streamMuxers: [yamux()],
    connectionGater: init.connectionGater ?? webkadConnectionGater(init.bootnodes ?? []),
    ...(init.connectionManager != null ? { connectionManager: init.connectionManager } : {}),
    // A closed tab says no goodbye: its WebRTC connections stay open here until a heartbeat ping
    // fails (Chrome only reports the peer connection "disconnected", which @libp2p/webrtc ignores).
    // With libp2p's default heartbeat (every 10 s, ping timeout ≥ 5 s) that took 5–15 s; every
    // 3 s it takes 5–8 s.
    connectionMonitor: init.connectionMonitor === false ? { enabled: false } : { pingInterval: 3_000 },
    services: {
      identify: identify(),
      // Tells the relay our circuit addresses as soon as the reservation exists (the session pushes
      // on reservation; the default 1 s debounce left a fresh tab unfindable for about a second).
      identifyPush: identifyPush({ debounce: 50 }),
      // libp2p's connection monitor pings every connection (every 3 s, above) over /ipfs/ping too. With
      // the default limit of 1 outbound ping stream per connection, a heartbeat that meets
      // kad-dht's routing-table ping fails (TooManyOutboundProtocolStreamsError) and the monitor
      // aborts the connection: tabs lost their relay ~10 s after Connect. The remote end must accept
      // as many (its inbound default is 2), or the extra pings are refused there instead.
      ping: ping({ maxOutboundStreams: 4, maxInboundStreams: 4 }),
      dht: webkadDHT(init.dht),
      chat: webkadChat({ ...init.chat, datastore: init.chatDatastore }),
      // Content-addressed blocks of shared files (files/); it serves what the files feature gives it.
      blocks: webkadBlocks()
    }
  })
}
