import { useState } from 'react'
import { ChatPanel } from './chat/chat-panel.tsx'
import { ConnectPanel } from './connect/connect-panel.tsx'
import { IdentityPanel } from './connect/identity-panel.tsx'
import { NodeCard } from './connect/node-card.tsx'
import { KeyspaceRingSection, QueryListSection } from './dht/lookup-views.tsx'
import { PutGetPanel } from './dht/put-get-panel.tsx'
import { RoutingTablePanel } from './dht/routing-table-panel.tsx'
import { ConnectionsTable } from './network/connections-table.tsx'
import { FindPeerPanel } from './network/find-peer-panel.tsx'
import { SchedulerSection } from './scheduler/scheduler-section.tsx'
import { StoredHereSection } from './stored/stored-here-section.tsx'
import { FilesSection } from './files/files-section.tsx'
import { NetworkMapSection } from './map/network-map-section.tsx'
import type { WebkadSession } from '../p2p/session.ts'

export function App ({ session, initialBootnodes }: { session: WebkadSession, initialBootnodes: string }): React.JSX.Element {
  // The lookup drawn on the ring: chosen there, or by opening it in the lookup list.
  const [selectedQueryId, setSelectedQueryId] = useState<string>()
  return (
    <>
      <NodeCard session={session} />
      <main className="layout">
        <ConnectPanel session={session} initialBootnodes={initialBootnodes} />
        <IdentityPanel session={session} />
        <FindPeerPanel session={session} />
        <ConnectionsTable session={session} />
        <PutGetPanel session={session} />
        <RoutingTablePanel session={session} />
        <KeyspaceRingSection session={session} selectedQueryId={selectedQueryId} onSelectQuery={setSelectedQueryId} />
        <QueryListSection session={session} onSelectQuery={setSelectedQueryId} />
        <ChatPanel session={session} />
        <SchedulerSection session={session} />
        <StoredHereSection session={session} />
        <FilesSection session={session} />
        <NetworkMapSection session={session} />
      </main>
    </>
  )
}
