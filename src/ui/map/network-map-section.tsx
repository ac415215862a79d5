import { Suspense, lazy } from 'react'
import type { WebkadSession } from '../../p2p/session.ts'

// The crawl UI, the map and its file handling load only with this section (their own chunk).
const NetworkMapPanel = lazy(async () => await import('./network-map-panel.tsx').then(module => ({ default: module.NetworkMapPanel })))

/** The Network map section, loaded lazily so the initial bundle stays small. */
export function NetworkMapSection ({ session }: { session: WebkadSession }): React.JSX.Element {
  return (
    <Suspense fallback={<section id="network-map" className="panel" aria-label="Network map"><h2>Network map</h2><p className="hint">Loading…</p></section>}>
      <NetworkMapPanel session={session} />
    </Suspense>
  )
}
