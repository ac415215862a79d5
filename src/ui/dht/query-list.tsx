import { useState } from 'react'
import { useStore } from '../hooks/use-store.ts'
import { formatMs } from '../common/format.ts'
import { QueryTraceView } from './query-trace-view.tsx'
import { responseCount } from './trace-analysis.ts'
import { useNow } from '../hooks/use-now.ts'
import type { QueryOperation, QueryTrace } from '../../p2p/dht/query-trace.ts'
import type { WebkadSession } from '../../p2p/session.ts'

const OPERATION_TEXT: Record<QueryOperation, string> = {
  put: 'Put',
  get: 'Get',
  'find-peer': 'Find peer',
  'closest-peers': 'Closest peers',
  replicate: 'Replicate',
  provide: 'Provide',
  'find-providers': 'Find providers'
}

/** The last DHT lookups of this tab, newest first, each expandable into its trace. */
export function QueryList ({ session, onSelectQuery }: {
  session: WebkadSession
  onSelectQuery: (id: string) => void
}): React.JSX.Element {
  const queries = useStore(session.queries)
  const [expanded, setExpanded] = useState<ReadonlySet<string>>(() => new Set())
  const toggle = (id: string): void => {
    const opening = !expanded.has(id)
    const next = new Set(expanded)
    if (opening) next.add(id)
    else next.delete(id)
    setExpanded(next)
    if (opening) onSelectQuery(id)
  }

  return (
    <section className="panel span-2" aria-labelledby="lookups-title">
      <h2 id="lookups-title">Lookups <span className="count">{queries.length}</span></h2>
      {queries.length === 0
        ? <p className="hint">No lookups yet: Put, Get, Closest peers and Find peer each show up here.</p>
        : (
          <>
            <ol className="queries" aria-label="Lookups, newest first">
              {queries.map(query => <QueryRow key={query.id} query={query} expanded={expanded.has(query.id)} onToggle={() => { toggle(query.id) }} />)}
            </ol>
            <div className="actions">
              <button type="button" onClick={() => { session.clearQueries() }}>Clear lookups</button>
            </div>
          </>
          )}
    </section>
  )
}

function QueryRow ({ query, expanded, onToggle }: { query: QueryTrace, expanded: boolean, onToggle: () => void }): React.JSX.Element {
  const answers = responseCount(query)
  const detailId = `trace-${query.id}`
  return (
    <li className={`query status-${query.status}`} data-testid="query-trace" data-operation={query.operation} data-status={query.status} data-answers={answers}>
      <button type="button" className="query-row" aria-expanded={expanded} aria-controls={expanded ? detailId : undefined} onClick={onToggle}>
        <span className="query-op">{OPERATION_TEXT[query.operation]}</span>
        <code className="query-label" title={query.label}>{query.label}</code>
        <span className={`query-status badge-${query.status}`}>{query.status}</span>
        <span className="query-numbers">{query.durationMs != null ? formatMs(query.durationMs) : <RunningFor startedAt={query.startedAt} />} · {query.messagesSent} msg · {answers} {answers === 1 ? 'answer' : 'answers'}</span>
        {query.summary != null && <span className="query-summary">{query.summary}</span>}
      </button>
      {expanded && <div id={detailId}><QueryTraceView trace={query} /></div>}
    </li>
  )
}

function RunningFor ({ startedAt }: { startedAt: number }): React.JSX.Element {
  const now = useNow()
  return <>{Math.max(0, Math.round((now - startedAt) / 1000))} s…</>
}
