import { useEffect, useState } from 'react'
import { useOperation } from '../hooks/use-operation.ts'
import { useStore } from '../hooks/use-store.ts'
import { ErrorMessage } from '../common/error-message.tsx'
import { formatMs } from '../common/format.ts'
import type { WebkadSession } from '../../p2p/session.ts'

/** Bootnode field (pre-filled from the relay's /bootstrap), Connect and Disconnect. */
export function ConnectPanel ({ session, initialBootnodes }: { session: WebkadSession, initialBootnodes: string }): React.JSX.Element {
  const state = useStore(session.state)
  const [bootnodes, setBootnodes] = useState(() => session.rememberedBootnodes ?? initialBootnodes)
  const connect = useOperation(async (signal, text: string) => { await session.connect(text, { signal }) })
  const connected = state.status !== 'offline'
  const { start } = connect

  // After a reload, rejoin the relay the tab was connected to (history and outbox live on).
  useEffect(() => {
    const remembered = session.rememberedBootnodes
    if (remembered != null && session.state.getSnapshot().status === 'offline') start(remembered)
  }, [session, start])

  return (
    <section className="panel" aria-labelledby="connect-title">
      <h2 id="connect-title">Connect</h2>
      <form onSubmit={(event) => { event.preventDefault(); connect.start(bootnodes) }}>
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
            <button type="button" onClick={() => { void session.disconnectByUser() }}>Disconnect</button>
          )}
        </div>
      </form>
      {connect.state.phase === 'failed' && <ErrorMessage error={connect.state.error} />}
      {state.timings.relayConnectedMs != null && (
        <p className="hint">
          Relay connected in {formatMs(state.timings.relayConnectedMs)}
          {state.timings.reservationMs != null && <>, reservation held after {formatMs(state.timings.reservationMs)}</>}
          {state.timings.dhtReadyMs != null && <>, DHT ready after {formatMs(state.timings.dhtReadyMs)}</>}
        </p>
      )}
    </section>
  )
}
