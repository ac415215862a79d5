import { formatAge, formatMs, shortPeerId } from '../common/format.ts'
import { hexPreview } from './dht-format.ts'
import { PeerIdList, PeerIdText } from './peer-id-list.tsx'
import { useNow } from '../hooks/use-now.ts'
import type { ClosestPeersResult, GetResult, PutResult } from '../../p2p/dht/dht-operations.ts'

/** Where a Put landed: the k closest peers that stored the record and those that did not. */
export function PutResultView ({ result, selfPeerId }: { result: PutResult, selfPeerId: string }): React.JSX.Element {
  const now = useNow()
  return (
    <section className="result dht-result" aria-label="Put result">
      <p>
        Stored <code>{result.key}</code> as sequence <strong>{result.sequence.toString()}</strong> in {formatMs(result.durationMs)};
        {' '}<span title={new Date(result.expiresAt).toISOString()}>expires in {timeUntil(result.expiresAt, now)}</span>.
      </p>
      <h3>Accepted by {result.accepted.length}</h3>
      <PeerIdList peers={result.accepted} selfPeerId={selfPeerId} label="Peers that stored the record" empty="no peer stored it" />
      {result.failed.length > 0 && (
        <>
          <h3>Failed on {result.failed.length}</h3>
          <ul className="peer-ids" aria-label="Peers that did not store the record">
            {result.failed.map(({ peer, reason }) => (
              <li key={peer}><PeerIdText peer={peer} selfPeerId={selfPeerId} /> <span className="reason">{reason}</span></li>
            ))}
          </ul>
        </>
      )}
    </section>
  )
}

/** The winning record and what the lookup learnt about who holds which version. */
export function GetResultView ({ result, selfPeerId }: { result: GetResult, selfPeerId: string }): React.JSX.Element {
  const now = useNow()
  const { record } = result
  return (
    <section className="result dht-result" aria-label="Get result">
      <p className="hint">Value of <code>{result.key}</code>{record.payload.type === 'bytes' && ' (bytes, shown as hex)'}:</p>
      <pre className="record-value" aria-label="Value found">
        {record.payload.type === 'text' ? record.payload.text : hexPreview(record.payload.bytes)}
      </pre>
      <dl className="facts">
        <div><dt>Author</dt><dd><code title={record.author}>{record.author === selfPeerId ? 'this tab' : shortPeerId(record.author)}</code></dd></div>
        <div><dt>Sequence</dt><dd>{record.sequence.toString()}</dd></div>
        <div><dt>Age</dt><dd title={new Date(record.createdAt).toISOString()}>{formatAge(record.createdAt, now)}</dd></div>
        <div><dt>Expires in</dt><dd title={new Date(record.expiresAt).toISOString()}>{timeUntil(record.expiresAt, now)}</dd></div>
        <div><dt>Lookup</dt><dd>{formatMs(result.durationMs)}{result.stoppedAtQuorum ? ', stopped at quorum' : ', full lookup'}</dd></div>
      </dl>
      <h3>Returned by {result.holders.length}</h3>
      <PeerIdList peers={result.holders} selfPeerId={selfPeerId} label="Peers that returned the record" />
      {result.outdated.length > 0 && (
        <>
          <h3>Outdated on {result.outdated.length}</h3>
          <ul className="peer-ids" aria-label="Peers with an outdated record">
            {result.outdated.map(({ peer, sequence, corrected }) => (
              <li key={peer}>
                <PeerIdText peer={peer} selfPeerId={selfPeerId} /> had sequence {sequence.toString()}{' '}
                <span className={corrected ? 'ok' : 'bad'}>{corrected ? '✓ corrected' : '✗ not corrected'}</span>
              </li>
            ))}
          </ul>
        </>
      )}
      {result.invalid.length > 0 && (
        <>
          <h3>Invalid from {result.invalid.length}</h3>
          <ul className="peer-ids" aria-label="Peers that returned an invalid record">
            {result.invalid.map(({ peer, reason }) => (
              <li key={peer}><PeerIdText peer={peer} selfPeerId={selfPeerId} /> <span className="reason">{reason}</span></li>
            ))}
          </ul>
        </>
      )}
      <p className="hint">
        {result.cachedOn != null
          ? <>Cached on <PeerIdText peer={result.cachedOn} selfPeerId={selfPeerId} />, the closest peer that lacked it.</>
          : 'Not cached: no peer on the path lacked the record.'}
      </p>
    </section>
  )
}

export function ClosestPeersResultView ({ result, selfPeerId }: { result: ClosestPeersResult, selfPeerId: string }): React.JSX.Element {
  return (
    <section className="result dht-result" aria-label="Closest peers result">
      <p>{result.peers.length} closest to <code>{result.key}</code>, found in {formatMs(result.durationMs)}:</p>
      <PeerIdList peers={result.peers} selfPeerId={selfPeerId} label="Closest peers found" />
    </section>
  )
}

/** Time left until `at`, in formatAge's units. */
function timeUntil (at: number, now: number): string {
  return formatAge(now, at)
}
