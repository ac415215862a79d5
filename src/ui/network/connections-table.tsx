import { useNow } from '../hooks/use-now.ts'
import { useStore } from '../hooks/use-store.ts'
import { formatAge, shortPeerId } from '../common/format.ts'
import type { ConnectionTransport } from '../../p2p/network/connections.ts'
import type { WebkadSession } from '../../p2p/session.ts'

const TRANSPORT_TEXT: Record<ConnectionTransport, string> = {
  websocket: 'WebSocket',
  relayed: 'Relayed',
  webrtc: 'WebRTC direct',
  other: 'Other'
}

/** Live list of open connections; updated from connection events, ages tick once a second. */
export function ConnectionsTable ({ session }: { session: WebkadSession }): React.JSX.Element {
  const connections = useStore(session.connections)
  const now = useNow()

  return (
    <section className="panel wide" aria-labelledby="connections-title">
      <h2 id="connections-title">Connections <span className="count">{connections.length}</span></h2>
      {connections.length === 0
        ? <p className="hint">No connections.</p>
        : (
          <table aria-labelledby="connections-title">
            <thead>
              <tr><th scope="col">Peer</th><th scope="col">Transport</th><th scope="col">Direction</th><th scope="col">Limited</th><th scope="col">Age</th></tr>
            </thead>
            <tbody>
              {connections.map(connection => (
                <tr key={connection.id} data-testid="connection-row" data-peer={connection.remotePeer} data-transport={connection.transport}>
                  <td><code title={`${connection.remotePeer}\n${connection.remoteAddr}`}>{shortPeerId(connection.remotePeer)}</code></td>
                  <td><span className={`transport transport-${connection.transport}`}>{TRANSPORT_TEXT[connection.transport]}</span></td>
                  <td>{connection.direction}</td>
                  <td>{connection.limited ? 'limited' : 'no'}</td>
                  <td>{formatAge(connection.openedAt, now)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          )}
    </section>
  )
}
