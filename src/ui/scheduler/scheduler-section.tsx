import { Suspense, lazy } from 'react'
import type { WebkadSession } from '../../p2p/session.ts'

const SchedulerPanel = lazy(async () => await import('./scheduler-panel.tsx').then(module => ({ default: module.SchedulerPanel })))

/** The Scheduler panel, loaded after the first render (its own chunk), so the initial bundle stays small. */
export function SchedulerSection ({ session }: { session: WebkadSession }): React.JSX.Element {
  return (
    <Suspense fallback={<section className="panel wide" aria-label="Scheduler"><h2>Scheduler</h2><p className="hint">Loading…</p></section>}>
      <SchedulerPanel session={session} />
    </Suspense>
  )
}
