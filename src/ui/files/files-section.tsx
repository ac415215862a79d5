import { Suspense, lazy } from 'react'
import type { WebkadSession } from '../../p2p/session.ts'

// UnixFS, the importer and IndexedDB block storage load only with this panel (their own chunk).
const FilesPanel = lazy(async () => await import('./files-panel.tsx').then(module => ({ default: module.FilesPanel })))

/** The Files panel, loaded lazily so the initial bundle stays small. */
export function FilesSection ({ session }: { session: WebkadSession }): React.JSX.Element {
  return (
    <Suspense fallback={<section className="panel" aria-label="Files"><h2>Files</h2><p className="hint">Loading…</p></section>}>
      <FilesPanel session={session} />
    </Suspense>
  )
}
