import { createStore } from '../stores/store.ts'
import type { ReadableStore } from '../stores/store.ts'
import type { Connection, Libp2p } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

export type ConnectionTransport = 'websocket' | 'relayed' | 'webrtc' | 'other'

/** An immutable row of the connections table. */
export interface ConnectionSummary {
  id: string
  remotePeer: string
  remoteAddr: string
  direction: 'inbound' | 'outbound'
  transport: ConnectionTransport
  /** Relayed connections carry limits (time/data); DHT RPCs never run over them. */
  limited: boolean
  openedAt: number
}

/** Names the transport of a connection from its remote address. */
export function classifyTransport (address: Multiaddr): ConnectionTransport {
  const names = address.getComponents().map(component => component.name)
  // A WebRTC address signalled through a relay still contains /p2p-circuit: test WebRTC first.
  if (names.includes('webrtc') || names.includes('webrtc-direct')) return 'webrtc'
  if (names.includes('p2p-circuit')) return 'relayed'
  if (names.includes('ws') || names.includes('wss') || names.includes('tls')) return 'websocket'
  return 'other'
}

export function summarizeConnection (connection: Connection): ConnectionSummary {
  return {
    id: connection.id,
    remotePeer: connection.remotePeer.toString(),
    remoteAddr: connection.remoteAddr.toString(),
    direction: connection.direction,
    transport: classifyTransport(connection.remoteAddr),
    limited: connection.limits != null,
    openedAt: connection.timeline.open
  }
}

/** The node's connections as table rows, rebuilt when one opens or closes. */
export function watchConnections (node: Libp2p): { store: ReadableStore<readonly ConnectionSummary[]>, stop: () => void } {
  const store = createStore<readonly ConnectionSummary[]>(node.getConnections().map(summarizeConnection))
  const refresh = (): void => { store.set(node.getConnections().map(summarizeConnection)) }
  node.addEventListener('connection:open', refresh)
  node.addEventListener('connection:close', refresh)
  return {
    store,
    stop: () => {
      node.removeEventListener('connection:open', refresh)
      node.removeEventListener('connection:close', refresh)
    }
  }
}
