import { useStore } from '../hooks/use-store.ts'
import { CopyButton } from '../common/copy-button.tsx'
import { shortPeerId } from '../common/format.ts'
import type { NodeStatus, WebkadSession } from '../../p2p/session.ts'

const STATUS_TEXT: Record<NodeStatus, string> = {
  offline: 'Offline',
  connecting: 'Connecting…',
  online: 'Online',
  'relay-lost': 'Relay lost'
}

/** Always-visible header: status, own peer ID, relay. */
export function NodeCard ({ session }: { session: WebkadSession }): React.JSX.Element {
  const state = useStore(session.state)
  return (
    <header className="node-card">
      <h1>webkad</h1>
      <span className={`status status-${state.status}`} data-testid="node-status" data-status={state.status} role="status">
        <span className="dot" aria-hidden="true" />
        {STATUS_TEXT[state.status]}
      </span>
      <span className="own-id">
        You are <code title={state.peerId}>{shortPeerId(state.peerId)}</code>
        <CopyButton text={state.peerId} label="Copy peer ID" />
      </span>
      {state.relayPeerId != null && (
        <span className="relay">relay <code title={state.relayPeerId}>{shortPeerId(state.relayPeerId)}</code></span>
      )}
    </header>
  )
}
