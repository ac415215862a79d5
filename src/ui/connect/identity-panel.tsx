import { useStore } from '../hooks/use-store.ts'
import { CopyButton } from '../common/copy-button.tsx'
import type { WebkadSession } from '../../p2p/session.ts'

const SOURCE_TEXT = {
  restored: 'kept from before the reload',
  created: 'new for this tab',
  'replaced-duplicate': 'new: this tab was duplicated from another'
} as const

/** Own peer ID and the addresses other peers can reach this tab on. */
export function IdentityPanel ({ session }: { session: WebkadSession }): React.JSX.Element {
  const state = useStore(session.state)
  return (
    <section className="panel" aria-labelledby="identity-title">
      <h2 id="identity-title">This tab</h2>
      <dl>
        <dt>Peer ID <span className="hint">({SOURCE_TEXT[state.identitySource]})</span></dt>
        <dd className="mono-row">
          <code data-testid="own-peer-id">{state.peerId}</code>
          <CopyButton text={state.peerId} label="Copy peer ID" />
        </dd>
        <dt>Listen addresses</dt>
        <dd>
          {state.listenAddrs.length === 0
            ? <span className="hint">none yet: connect to a relay</span>
            : (
              <ul className="addresses" aria-label="Listen addresses">
                {state.listenAddrs.map(address => (
                  <li key={address} className="mono-row">
                    <code>{address}</code>
                    <CopyButton text={address} label={`Copy address ${address}`} />
                  </li>
                ))}
              </ul>
              )}
        </dd>
      </dl>
    </section>
  )
}
