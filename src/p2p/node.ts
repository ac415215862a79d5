import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify, identifyPush } from '@libp2p/identify'
import { noise } from '@libp2p/noise'
import { ping } from '@libp2p/ping'
import { webRTC } from '@libp2p/webrtc'
import { webSockets } from '@libp2p/websockets'
import { yamux } from '@libp2p/yamux'
import { createLibp2p } from 'libp2p'
import { webkadDHT } from './dht/dht-config.ts'
import { webkadConnectionGater } from './network/connection-gater.ts'
import { webkadChat } from './services/chat/index.ts'
import type { ChatService } from './services/chat/index.ts'
import type { Datastore } from 'interface-datastore'
import type { Identify, IdentifyPush } from '@libp2p/identify'
import type { KadDHT } from '@libp2p/kad-dht'
import type { Libp2p, PrivateKey } from '@libp2p/interface'
import type { Ping } from '@libp2p/ping'
import type { Multiaddr } from '@multiformats/multiaddr'

export type WebkadServices = {
  identify: Identify
  identifyPush: IdentifyPush
  ping: Ping
  dht: KadDHT
  chat: ChatService
}

/** A tab's libp2p node, typed with the services every webkad tab runs. */
export type WebkadNode = Libp2p<WebkadServices>

export interface WebkadNodeInit {
  privateKey: PrivateKey
  /** The relay(s) the user chose; decide whether local addresses may be dialled. */
  bootnodes: Multiaddr[]
  /** STUN/TURN servers for WebRTC. Empty by default: on one machine or a LAN host candidates suffice. */
  iceServers?: RTCIceServer[]
  /** Chat history and outbox (IndexedDB per identity in the browser). */
  chatDatastore?: Datastore
  /** libp2p's own datastore (peer store, DHT records held for others). @default in memory */
  datastore?: Datastore
  /** false: no WebRTC at all (to see, and test, chat falling back to the relay). @default true */
  webrtc?: boolean
}

/**
 * The one place a webkad tab's libp2p node is created. The node is returned stopped-or-started
 * as libp2p decides (started by default); the caller owns `stop()`.
 */
export async function createWebkadNode (init: WebkadNodeInit): Promise<WebkadNode> {
  const webrtcEnabled = init.webrtc ?? true
  return await createLibp2p({
    privateKey: init.privateKey,
    ...(init.datastore != null ? { datastore: init.datastore } : {}),
    addresses: {
      // Reserve a slot on the relay (circuit) and accept WebRTC dials signalled through it.
      listen: webrtcEnabled ? ['/p2p-circuit', '/webrtc'] : ['/p2p-circuit']
    },
    transports: [
      webSockets(),
      ...(webrtcEnabled
        ? [webRTC({
            rtcConfiguration: { iceServers: init.iceServers ?? [] },
            // The default (16 KiB including framing) cut every 16 KiB write in two messages; the
            // other end is always a webkad tab, and browsers accept 64 KiB or more per message.
            dataChannel: { maxMessageSize: 32 * 1024 }
          })]
        : []),
      circuitRelayTransport()
    ],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: webkadConnectionGater(init.bootnodes),
    // A closed tab says no goodbye: its WebRTC connections stay open here until a heartbeat ping
    // fails (Chrome only reports the peer connection "disconnected", which @libp2p/webrtc ignores).
    // With libp2p's default heartbeat (every 10 s, ping timeout ≥ 5 s) that took 5–15 s; every
    // 3 s it takes 5–8 s.
    connectionMonitor: { pingInterval: 3_000 },
    services: {
      identify: identify(),
      // Tells the relay our circuit addresses as soon as the reservation exists (the session pushes
      // on reservation; the default 1 s debounce left a fresh tab unfindable for about a second).
      identifyPush: identifyPush({ debounce: 50 }),
      // libp2p's connection monitor pings every connection each 10 s over /ipfs/ping too. With
      // the default limit of 1 outbound ping stream per connection, a heartbeat that meets
      // kad-dht's routing-table ping fails (TooManyOutboundProtocolStreamsError) and the monitor
      // aborts the connection: tabs lost their relay ~10 s after Connect. The remote end must accept
      // as many (its inbound default is 2), or the extra pings are refused there instead.
      ping: ping({ maxOutboundStreams: 4, maxInboundStreams: 4 }),
      dht: webkadDHT(),
      chat: webkadChat({ datastore: init.chatDatastore })
    }
  })
}
