import { Suspense, lazy } from 'react'
import type { ComponentType } from 'react'
import type { WebkadSession } from '../../p2p/session.ts'

interface PanelProps { session: WebkadSession }

/**
 * A panel loaded after the first render, from its own chunk, so the initial bundle stays small;
 * until it arrives its place shows the panel's heading and "Loading…". `load` must hold the
 * `import()` itself, so the bundler makes the chunk.
 */
export function lazyPanel (title: string, load: () => Promise<ComponentType<PanelProps>>, layout: { wide?: boolean, id?: string } = {}): ComponentType<PanelProps> {
  const Panel = lazy(async () => ({ default: await load() }))
  return function LazyPanel ({ session }: PanelProps): React.JSX.Element {
    return (
      <Suspense fallback={<section id={layout.id} className={layout.wide === true ? 'panel wide' : 'panel'} aria-label={title}><h2>{title}</h2><p className="hint">Loading…</p></section>}>
        <Panel session={session} />
      </Suspense>
    )
  }
}
