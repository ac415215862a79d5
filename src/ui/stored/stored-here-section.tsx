import { Suspense, lazy } from 'react'
import type { WebkadSession } from '../../p2p/session.ts'

const StoredHerePanel = lazy(async () => await import('./stored-here-panel.tsx').then(module => ({ default: module.StoredHerePanel })))

/** The Stored-here panel, loaded after the first render (its own chunk), so the initial bundle stays small. */
export function StoredHereSection ({ session }: { session: WebkadSession }): React.JSX.Element {
  return (
    <Suspense fallback={<section className="panel wide" aria-label="Stored here"><h2>Stored here</h2><p className="hint">Loading…</p></section>}>
      <StoredHerePanel session={session} />
    </Suspense>
  )
}
