import { logger } from '@libp2p/logger'
import { WebRTC } from '@multiformats/multiaddr-matcher'
import type { Connection, Libp2p, PeerId } from '@libp2p/interface'

const log = logger('webkad:connections')

/** Lets streams opened on a connection that is about to lose settle before it closes. */
const SETTLE_MS = 1_000
/** Two connections opened this close together come from both ends dialling at once. */
const SIMULTANEOUS_DIAL_WINDOW_MS = 5_000

/**
 * Both tabs may dial each other at the same moment (auto-dial on one side, a DHT query or a
 * click on the other), leaving two WebRTC connections between one pair. Both sides keep the
 * same one — the connection dialled by the peer with the smaller ID — and close the other.
 * When the two were opened far apart, the newer wins: the older belongs to a page that reloaded.
 */
export function preferredConnection (self: PeerId, connections: Connection[]): Connection | undefined {
  const open = connections.filter(connection => connection.status === 'open')
  const opened = open.map(connection => connection.timeline.open)
  if (Math.max(...opened) - Math.min(...opened) > SIMULTANEOUS_DIAL_WINDOW_MS) {
    // Not a race: the peer came back (a reload) and the old connection is most likely dead
    // while WebRTC has not noticed yet. Both sides see the new one as the newest.
    return open.sort((a, b) => b.timeline.open - a.timeline.open)[0]
  }
  const selfDials = self.toString() < (connections[0]?.remotePeer.toString() ?? '')
  const wanted = selfDials ? 'outbound' : 'inbound'
  return open.filter(connection => connection.direction === wanted).sort((a, b) => a.timeline.open - b.timeline.open)[0] ??
    open.sort((a, b) => a.timeline.open - b.timeline.open)[0]
}

/** Watches new WebRTC connections and closes duplicates; returns a function that stops watching. */
export function closeDuplicateWebRTCConnections (node: Libp2p): () => void {
  const timers = new Set<ReturnType<typeof setTimeout>>()
  const onOpen = (event: CustomEvent<Connection>): void => {
    if (!WebRTC.matches(event.detail.remoteAddr)) return
    const peer = event.detail.remotePeer
    const timer = setTimeout(() => {
      timers.delete(timer)
      const webrtc = node.getConnections(peer).filter(connection => WebRTC.matches(connection.remoteAddr) && connection.status === 'open')
      if (webrtc.length < 2) return
      const keep = preferredConnection(node.peerId, webrtc)
      for (const connection of webrtc) {
        if (connection === keep) continue
        log('closing duplicate WebRTC connection %s to %p', connection.id, peer)
        connection.close().catch(() => { connection.abort(new Error('duplicate connection')) })
      }
    }, SETTLE_MS)
    timers.add(timer)
  }
  node.addEventListener('connection:open', onOpen)
  return () => {
    node.removeEventListener('connection:open', onOpen)
    for (const timer of timers) clearTimeout(timer)
  }
}
