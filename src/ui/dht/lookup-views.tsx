import { Suspense, lazy } from 'react'
import type { WebkadSession } from '../../p2p/session.ts'

// The ring, the lookup list and the step-by-step trace are one chunk, loaded after the first
// render: they have nothing to show before the first lookup, and the initial bundle stays small.
const views = import('./lookup-views-chunk.ts')
const KeyspaceRing = lazy(async () => await views.then(module => ({ default: module.KeyspaceRing })))
const QueryList = lazy(async () => await views.then(module => ({ default: module.QueryList })))

function Loading ({ title, className }: { title: string, className: string }): React.JSX.Element {
  return <section className={className} aria-label={title}><h2>{title}</h2><p className="hint">Loading…</p></section>
}

export function KeyspaceRingSection (props: { session: WebkadSession, selectedQueryId?: string, onSelectQuery(id: string | undefined): void }): React.JSX.Element {
  return <Suspense fallback={<Loading title="Keyspace ring" className="panel" />}><KeyspaceRing {...props} /></Suspense>
}

export function QueryListSection (props: { session: WebkadSession, onSelectQuery(id: string | undefined): void }): React.JSX.Element {
  return <Suspense fallback={<Loading title="Lookups" className="panel span-2" />}><QueryList {...props} /></Suspense>
}
