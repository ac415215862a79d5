import { ConnectPanel } from './connect/connect-panel.tsx'
import { IdentityPanel } from './connect/identity-panel.tsx'
import { NodeCard } from './connect/node-card.tsx'
import { ConnectionsTable } from './network/connections-table.tsx'
import { FindPeerPanel } from './network/find-peer-panel.tsx'
import type { WebkadSession } from '../p2p/session.ts'

export function App ({ session, initialBootnodes }: { session: WebkadSession, initialBootnodes: string }): React.JSX.Element {
  return (
    <>
      <NodeCard session={session} />
      <main className="layout">
        <ConnectPanel session={session} initialBootnodes={initialBootnodes} />
        <IdentityPanel session={session} />
        <FindPeerPanel session={session} />
        <ConnectionsTable session={session} />
      </main>
    </>
  )
}
