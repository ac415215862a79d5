import { useState } from 'react'
import { formatMs, shortPeerId } from '../common/format.ts'
import { downloadText, shortKadId, toJson } from './dht-format.ts'
import { TraceChart } from './trace-chart.tsx'
import { contactedPeers, responseCount } from './trace-analysis.ts'
import type { QueryTrace, TraceEvent, TracePeer } from '../../p2p/dht/query-trace.ts'

/** One lookup in detail: the distance picture, the closest peers it ended with, the raw events. */
export function QueryTraceView ({ trace }: { trace: QueryTrace }): React.JSX.Element {
  const [showRaw, setShowRaw] = useState(false)
  const rawId = `${trace.id}-raw`
  return (
    <div className="trace">
      <dl className="facts">
        <div><dt>Duration</dt><dd>{trace.durationMs == null ? 'running' : formatMs(trace.durationMs)}</dd></div>
        <div><dt>Messages sent</dt><dd>{trace.messagesSent}</dd></div>
        <div><dt>Answers</dt><dd>{responseCount(trace)}</dd></div>
        <div><dt>Target</dt><dd><code title={trace.targetKadId}>{shortKadId(trace.targetKadId)}</code></dd></div>
      </dl>
      {trace.events.length === 0
        ? <p className="hint">No requests yet.</p>
        : (
          <figure className="trace-figure">
            <TraceChart trace={trace} />
            <figcaption className="legend">
              <span><span className="mark-key mark-answered" aria-hidden="true" />answered</span>
              <span><span className="mark-key mark-had-record" aria-hidden="true" />answered with the record</span>
              <span><span className="mark-key mark-sent" aria-hidden="true" />asked</span>
              <span><span className="mark-key mark-failed" aria-hidden="true">✕</span>failed</span>
              <span>y: log2 XOR distance to the target</span>
            </figcaption>
          </figure>
          )}
      <ClosestPeers trace={trace} />
      <div className="actions">
        <button type="button" aria-expanded={showRaw} aria-controls={rawId} onClick={() => { setShowRaw(shown => !shown) }}>Raw events</button>
        <button type="button" onClick={() => { downloadText(`webkad-${trace.operation}-${trace.id}.json`, toJson(trace)) }}>Export JSON</button>
      </div>
      {showRaw && <pre id={rawId} className="raw-events" tabIndex={0} aria-label="Raw events">{trace.events.map(describeEvent).join('\n')}</pre>}
    </div>
  )
}

/**
 * The closest-peer set the lookup ended with. Get reports none (it ends on values), so for it
 * the peers that answered stand in, nearest first.
 */
function ClosestPeers ({ trace }: { trace: QueryTrace }): React.JSX.Element {
  const answered = contactedPeers(trace).filter(contact => contact.state === 'answered').map(contact => contact.peer)
  const useFinal = trace.finalPeers.length > 0 || trace.status === 'running'
  const peers: readonly TracePeer[] = useFinal ? trace.finalPeers : [...answered].sort((a, b) => a.distanceHex.localeCompare(b.distanceHex))
  const heading = useFinal ? 'Closest peers found' : 'Peers that answered, nearest first'
  return (
    <>
      <h3>{heading} ({peers.length})</h3>
      {peers.length === 0
        ? <p className="hint">{trace.status === 'running' ? 'Not yet.' : 'None.'}</p>
        : (
          <ol className="final-peers" aria-label={heading}>
            {peers.map(peer => (
              <li key={peer.peer}><code title={peer.peer}>{shortPeerId(peer.peer)}</code> <span className="hint" title={peer.distanceHex}>distance {peer.distance}</span></li>
            ))}
          </ol>
          )}
    </>
  )
}

function describeEvent (event: TraceEvent): string {
  const head = `+${event.at.toFixed(1).padStart(8)} ms  ${event.path < 0 ? 'local ' : `path ${event.path}`}  ${event.kind.padEnd(13)}`
  switch (event.kind) {
    case 'send-query': return `${head} → ${event.to.peer} ${event.message} (distance ${event.to.distance})`
    case 'peer-response': return `${head} ← ${event.from.peer} ${event.message} (distance ${event.from.distance}), ${event.closer.length} closer${event.hasRecord ? ', with record' : ''}`
    case 'final-peer': return `${head} ${event.peer.peer} (distance ${event.peer.distance}) from ${event.from}`
    case 'query-error': return `${head} ${event.from.peer}: ${event.error}`
    case 'value': return `${head} value from ${event.from.peer}`
    case 'add-peer': case 'dial-peer': return `${head} ${event.peer.peer}`
    case 'provider': return `${head} provider ${event.from.peer}`
    case 'path-ended': return head.trimEnd()
    case 'waiting-for-peer': return `${head} waiting for the first DHT peer (the routing table is empty)`
  }
}
