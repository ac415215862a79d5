import { useRef, useState } from 'react'
import { ChatSection } from './chat/chat-section.tsx'
import { ConnectPanel } from './connect/connect-panel.tsx'
import { IdentityPanel } from './connect/identity-panel.tsx'
import { NodeCard } from './connect/node-card.tsx'
import { KeyspaceRingSection, QueryListSection } from './dht/lookup-views.tsx'
import { PutGetPanel } from './dht/put-get-panel.tsx'
import { RoutingTablePanel } from './dht/routing-table-panel.tsx'
import { SectionIndex } from './layout/section-index.tsx'
import { useStickyHeights } from './layout/sticky-heights.ts'
import { ConnectionsTable } from './network/connections-table.tsx'
import { FindPeerPanel } from './network/find-peer-panel.tsx'
import { SchedulerSection } from './scheduler/scheduler-section.tsx'
import { StoredHereSection } from './stored/stored-here-section.tsx'
import { FilesSection } from './files/files-section.tsx'
import { NetworkMapSection } from './map/network-map-section.tsx'
import type { PageSection } from './layout/section-index.tsx'
import type { WebkadSession } from '../p2p/session.ts'

/**
 * The page's sections, in order: the index links to each by id. `network-map` is the id of the
 * Network map panel itself (src/ui/map); the others are the groups below.
 */
const SECTIONS: readonly PageSection[] = [
  { id: 'connect', title: 'Connect' },
  { id: 'network', title: 'Network' },
  { id: 'dht', title: 'DHT' },
  { id: 'lookups', title: 'Lookups' },
  { id: 'chat', title: 'Chat' },
  { id: 'scheduler', title: 'Scheduler' },
  { id: 'stored', title: 'Stored here' },
  { id: 'files', title: 'Files' },
  { id: 'network-map', title: 'Network map' }
]

/** A group of panels the section index links to; focusable so the index can move focus to it. */
function PageGroup ({ id, children }: { id: string, children: React.ReactNode }): React.JSX.Element {
  return <div id={id} className="page-section" tabIndex={-1}>{children}</div>
}

export function App ({ session, initialBootnodes }: { session: WebkadSession, initialBootnodes: string }): React.JSX.Element {
  // The lookup drawn on the ring: chosen there, or by opening it in the lookup list.
  const [selectedQueryId, setSelectedQueryId] = useState<string>()
  const header = useRef<HTMLDivElement>(null)
  const index = useRef<HTMLDivElement>(null)
  useStickyHeights(header, index)
  return (
    <>
      <div ref={header} className="page-header"><NodeCard session={session} /></div>
      <div ref={index} className="page-index"><SectionIndex sections={SECTIONS} /></div>
      <main className="layout">
        <PageGroup id="connect">
          <ConnectPanel session={session} initialBootnodes={initialBootnodes} />
          <IdentityPanel session={session} />
        </PageGroup>
        <PageGroup id="network">
          <FindPeerPanel session={session} />
          <ConnectionsTable session={session} />
        </PageGroup>
        <PageGroup id="dht">
          <PutGetPanel session={session} />
          <RoutingTablePanel session={session} />
        </PageGroup>
        <PageGroup id="lookups">
          <KeyspaceRingSection session={session} selectedQueryId={selectedQueryId} onSelectQuery={setSelectedQueryId} />
          <QueryListSection session={session} onSelectQuery={setSelectedQueryId} />
        </PageGroup>
        <PageGroup id="chat"><ChatSection session={session} /></PageGroup>
        <PageGroup id="scheduler"><SchedulerSection session={session} /></PageGroup>
        <PageGroup id="stored"><StoredHereSection session={session} /></PageGroup>
        <PageGroup id="files"><FilesSection session={session} /></PageGroup>
        <NetworkMapSection session={session} />
      </main>
    </>
  )
}
