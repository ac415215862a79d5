import type { WebkadSession } from '../../p2p/session.ts'

/** The crawled network on the keyspace ring (filled in step by step). */
export function NetworkMapPanel ({ session }: { session: WebkadSession }): React.JSX.Element {
  void session
  return (
    <section id="network-map" className="panel" aria-label="Network map">
      <h2>Network map</h2>
    </section>
  )
}
