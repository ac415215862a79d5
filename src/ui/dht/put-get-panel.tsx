import { useState } from 'react'
import { useOperation } from '../hooks/use-operation.ts'
import { useStore } from '../hooks/use-store.ts'
import { ErrorMessage } from '../common/error-message.tsx'
import { MAX_NAME_BYTES, MAX_PAYLOAD_BYTES, RECORD_KEY_PREFIX } from '../../p2p/dht/records.ts'
import { dhtErrorHeadline } from './dht-error.ts'
import { utf8ByteLength } from '../common/format.ts'
import { ClosestPeersResultView, GetResultView, PutResultView } from './dht-results.tsx'
import type { ClosestPeersResult, GetResult, PutResult } from '../../p2p/dht/dht-operations.ts'
import type { WebkadSession } from '../../p2p/session.ts'

type DhtAction =
  | { kind: 'put', key: string, text: string }
  | { kind: 'get', key: string, quorum: number }
  | { kind: 'closest', key: string }

type DhtOutcome =
  | { kind: 'put', result: PutResult }
  | { kind: 'get', result: GetResult }
  | { kind: 'closest', result: ClosestPeersResult }

const RUNNING_TEXT: Record<DhtAction['kind'], string> = {
  put: 'Storing: reading the current sequence, then sending to the closest peers…',
  get: 'Looking up the record…',
  closest: 'Looking up the closest peers…'
}

/** What the Put / Get panel uses of the session (tests pass a fake with just these). */
export type PutGetSession = Pick<WebkadSession, 'put' | 'get' | 'closestPeers' | 'state'>

/** Put and Get of signed records under /webkad/ keys, and closest-peer lookups for a key. */
export function PutGetPanel ({ session }: { session: PutGetSession }): React.JSX.Element {
  const { peerId } = useStore(session.state)
  const [key, setKey] = useState('')
  const [value, setValue] = useState('')
  const [quorum, setQuorum] = useState('0')
  const [running, setRunning] = useState<DhtAction['kind']>('get')
  const operation = useOperation(async (signal, action: DhtAction): Promise<DhtOutcome> => {
    switch (action.kind) {
      case 'put': return { kind: 'put', result: await session.put(action.key, { type: 'text', text: action.text }, { signal }) }
      case 'get': return { kind: 'get', result: await session.get(action.key, { signal, quorum: action.quorum }) }
      case 'closest': return { kind: 'closest', result: await session.closestPeers(action.key, { signal }) }
    }
  })
  const start = (action: DhtAction): void => { setRunning(action.kind); operation.start(action) }
  const busy = operation.state.phase === 'running'
  const hasPrefix = key.startsWith(RECORD_KEY_PREFIX)
  const nameBytes = utf8ByteLength(hasPrefix ? key.slice(RECORD_KEY_PREFIX.length) : key)
  const valueBytes = utf8ByteLength(value)
  const quorumNumber = Number.parseInt(quorum, 10)

  return (
    <section className="panel" aria-labelledby="put-get-title">
      <h2 id="put-get-title">Put / Get</h2>
      <form onSubmit={(event) => { event.preventDefault() }}>
        <label htmlFor="dht-key">Key</label>
        <div className="prefixed">
          {!hasPrefix && <span className="prefix" aria-hidden="true">{RECORD_KEY_PREFIX}</span>}
          <input
            id="dht-key"
            spellCheck={false}
            autoComplete="off"
            value={key}
            placeholder="greeting"
            aria-describedby="dht-key-hint"
            onChange={(event) => { setKey(event.target.value) }}
          />
        </div>
        <p id="dht-key-hint" className="hint field-hint">
          <ByteCount bytes={nameBytes} limit={MAX_NAME_BYTES} />. Stored under {RECORD_KEY_PREFIX}&lt;name&gt;;
          {' '}{RECORD_KEY_PREFIX}&lt;your peer ID&gt;/&lt;name&gt; only this tab can write.{' '}
          <button type="button" className="link" onClick={() => { setKey(ownedKey(key, peerId)) }}>
            Use my namespace
          </button>
        </p>

        <label htmlFor="dht-value">Value</label>
        <textarea
          id="dht-value"
          rows={3}
          value={value}
          placeholder="Text to store"
          aria-describedby="dht-value-hint"
          onChange={(event) => { setValue(event.target.value) }}
        />
        <p id="dht-value-hint" className="hint field-hint"><ByteCount bytes={valueBytes} limit={MAX_PAYLOAD_BYTES} /> (text, signed by this tab)</p>

        <label htmlFor="dht-quorum">Quorum</label>
        <input
          id="dht-quorum"
          className="narrow"
          type="number"
          min={0}
          step={1}
          inputMode="numeric"
          value={quorum}
          aria-describedby="dht-quorum-hint"
          onChange={(event) => { setQuorum(event.target.value) }}
        />
        <p id="dht-quorum-hint" className="hint field-hint">Get stops after this many valid records; 0 runs the whole lookup.</p>

        <div className="actions">
          <button type="button" className="primary" disabled={busy} onClick={() => { start({ kind: 'put', key, text: value }) }}>Put</button>
          <button type="button" className="primary" disabled={busy} onClick={() => { start({ kind: 'get', key, quorum: Number.isFinite(quorumNumber) ? quorumNumber : 0 }) }}>Get</button>
          <button type="button" disabled={busy} onClick={() => { start({ kind: 'closest', key }) }}>Closest peers</button>
          {busy && <button type="button" onClick={operation.cancel}>Cancel</button>}
        </div>
      </form>

      <div aria-live="polite">
        {busy && <p className="hint" role="status">{RUNNING_TEXT[running]}</p>}
        {operation.state.phase === 'failed' && <ErrorMessage error={operation.state.error} headline={dhtErrorHeadline(operation.state.error)} />}
        {operation.state.phase === 'done' && <OutcomeView outcome={operation.state.result} selfPeerId={peerId} />}
      </div>
    </section>
  )
}

function OutcomeView ({ outcome, selfPeerId }: { outcome: DhtOutcome, selfPeerId: string }): React.JSX.Element {
  switch (outcome.kind) {
    case 'put': return <PutResultView result={outcome.result} selfPeerId={selfPeerId} />
    case 'get': return <GetResultView result={outcome.result} selfPeerId={selfPeerId} />
    case 'closest': return <ClosestPeersResultView result={outcome.result} selfPeerId={selfPeerId} />
  }
}

/** "12 / 200 bytes", marked when over the limit; the core still decides and says why. */
function ByteCount ({ bytes, limit }: { bytes: number, limit: number }): React.JSX.Element {
  const over = bytes > limit
  return (
    <span className={over ? 'byte-count over' : 'byte-count'}>
      {bytes.toLocaleString('en')} / {limit.toLocaleString('en')} bytes{over && ' (over the limit)'}
    </span>
  )
}

/** A base58 peer ID in front of the name (Ed25519 `12D3KooW…` or RSA `Qm…`): another owner to replace. */
const OWNER_PREFIX = /^(?:12D3KooW|Qm)[1-9A-HJ-NP-Za-km-z]{40,}\//

/** The name moved under `<peerId>/`, replacing another peer's ID if the key had one. */
function ownedKey (input: string, peerId: string): string {
  const name = input.startsWith(RECORD_KEY_PREFIX) ? input.slice(RECORD_KEY_PREFIX.length) : input
  return `${peerId}/${name.replace(OWNER_PREFIX, '')}`
}
