import { useState } from 'react'
import { useOperation } from '../hooks/use-operation.ts'
import { ErrorMessage } from '../common/error-message.tsx'
import { formatMs, shortPeerId } from '../common/format.ts'
import { openChatWith } from '../chat/chat-selection.ts'
import { toOperationError } from '../hooks/use-operation.ts'
import type { OperationError } from '../hooks/use-operation.ts'
import type { WebkadSession } from '../../p2p/session.ts'

/** What the Find peer panel uses of the session (tests pass a fake with just these). */
export type FindPeerSession = Pick<WebkadSession, 'findPeer' | 'dialDirect' | 'ping' | 'openChat' | 'state'>

/** FindPeer through the DHT, then open a direct WebRTC connection or ping the peer. */
export function FindPeerPanel ({ session }: { session: FindPeerSession }): React.JSX.Element {
  const [peerId, setPeerId] = useState('')
  const find = useOperation(async (signal, target: string) => await session.findPeer(target, { signal }))
  const dial = useOperation(async (signal, target: string) => await session.dialDirect(target, { signal }))
  const ping = useOperation(async (signal, target: string) => await session.ping(target, { signal }))
  const target = peerId.trim()
  const [chatError, setChatError] = useState<OperationError>()
  const foundPeerId = find.state.phase === 'done' ? find.state.result.peerId : undefined
  const chatWith = (peer: string): void => {
    try {
      openChatWith(session, peer)
      setChatError(undefined)
    } catch (err) {
      setChatError(toOperationError(err))
    }
  }

  return (
    <section className="panel" aria-labelledby="find-title">
      <h2 id="find-title">Find peer</h2>
      <form onSubmit={(event) => { event.preventDefault(); find.start(target) }}>
        <label htmlFor="find-peer-id">Peer ID to find</label>
        <input
          id="find-peer-id"
          spellCheck={false}
          autoComplete="off"
          value={peerId}
          placeholder="12D3Koo…"
          onChange={(event) => { setPeerId(event.target.value) }}
        />
        <div className="actions">
          <button type="submit" disabled={find.state.phase === 'running'}>Find peer</button>
          <button type="button" onClick={() => { dial.start(target) }} disabled={dial.state.phase === 'running'}>Connect directly</button>
          <button type="button" onClick={() => { ping.start(target) }} disabled={ping.state.phase === 'running'}>Ping</button>
        </div>
      </form>

      <div aria-live="polite">
        {find.state.phase === 'running' && <p className="hint">Looking up…</p>}
        {find.state.phase === 'failed' && <ErrorMessage error={find.state.error} />}
        {find.state.phase === 'done' && (
          <div className="result" role="region" aria-label="Find peer result">
            <p>
              Found in {formatMs(find.state.result.durationMs)} ({find.state.result.queriesSent} {find.state.result.queriesSent === 1 ? 'query' : 'queries'}),
              answered by {describeSource(find.state.result.answeredBy, session)}:
            </p>
            <ul className="addresses" aria-label="Addresses found">
              {find.state.result.addresses.map(address => <li key={address}><code>{address}</code></li>)}
            </ul>
            <div className="actions">
              <button type="button" title="Open a chat with this peer" onClick={() => { if (foundPeerId != null) chatWith(foundPeerId) }}>Chat</button>
            </div>
            {chatError != null && <ErrorMessage error={chatError} headline="Cannot open the chat" />}
          </div>
        )}

        {dial.state.phase === 'running' && <p className="hint">Opening a WebRTC connection…</p>}
        {dial.state.phase === 'failed' && <ErrorMessage error={dial.state.error} />}
        {dial.state.phase === 'done' && (
          <p className="result" data-testid="direct-connection-result">
            {dial.state.result.reused
              ? 'Already directly connected over WebRTC.'
              : `Direct WebRTC connection open in ${formatMs(dial.state.result.durationMs)} (attempt ${dial.state.result.attempts}).`}
          </p>
        )}

        {ping.state.phase === 'failed' && <ErrorMessage error={ping.state.error} />}
        {ping.state.phase === 'done' && (
          <p className="result" data-testid="ping-result" data-rtt-ms={ping.state.result.rttMs}>Ping: {formatMs(ping.state.result.rttMs)} round trip</p>
        )}
      </div>
    </section>
  )
}

function describeSource (answeredBy: string, session: Pick<FindPeerSession, 'state'>): string {
  const state = session.state.getSnapshot()
  if (answeredBy === state.peerId) return 'this tab\'s own routing table'
  if (answeredBy === state.relayPeerId) return `the relay ${shortPeerId(answeredBy)}`
  return `peer ${shortPeerId(answeredBy)}`
}
