import { useState } from 'react'
import { useOperation } from '../hooks/use-operation.ts'
import { useStore } from '../hooks/use-store.ts'
import { ErrorMessage } from '../common/error-message.tsx'
import { formatMs } from '../common/format.ts'
import type { WebkadSession } from '../../p2p/session.ts'

/** Bootnode field (pre-filled from the relay's /bootstrap), Connect and Disconnect. */
export function ConnectPanel ({ session, initialBootnodes }: { session: WebkadSession, initialBootnodes: string }): React.JSX.Element {
  const state = useStore(session.state)
  const [bootnodes, setBootnodes] = useState(initialBootnodes)
  const connect = useOperation(async (signal) => { await session.connect(bootnodes, { signal }) })
  const connected = state.status !== 'offline'

  return (
    <section className="panel" aria-labelledby="connect-title">
      <h2 id="connect-title">Connect</h2>
      <form onSubmit={(event) => { event.preventDefault(); connect.start() }}>
        <label htmlFor="bootnodes">Bootnode multiaddr</label>
        <textarea
          id="bootnodes"
          rows={2}
          spellCheck={false}
          value={bootnodes}
          placeholder="/ip4/127.0.0.1/tcp/9090/ws/p2p/12D3Koo…"
          onChange={(event) => { setBootnodes(event.target.value) }}
        />
        <div className="actions">
          <button type="submit" disabled={connect.state.phase === 'running'}>
            {connected ? 'Reconnect' : 'Connect'}
          </button>
          {connect.state.phase === 'running' && <button type="button" onClick={connect.cancel}>Cancel</button>}
          {connected && connect.state.phase !== 'running' && (
            <button type="button" onClick={() => { void session.disconnect() }}>Disconnect</button>
          )}
        </div>
      </form>
      {connect.state.phase === 'failed' && <ErrorMessage error={connect.state.error} />}
      {state.timings.relayConnectedMs != null && (
        <p className="hint">
          Relay connected in {formatMs(state.timings.relayConnectedMs)}
          {state.timings.reservationMs != null && <>, reservation held after {formatMs(state.timings.reservationMs)}</>}
        </p>
      )}
    </section>
  )
}
