import { useId, useState } from 'react'
import { useStore } from '../hooks/use-store.ts'
import { shortPeerId } from '../common/format.ts'
import { CONNECTION_TEXT, kadPrefixFromDistance, ringFraction, shortKadId } from './dht-format.ts'
import { contactedPeers, lookupSteps } from './trace-analysis.ts'
import type { ContactedPeer, LookupStep } from './trace-analysis.ts'
import type { QueryTrace } from '../../p2p/dht/query-trace.ts'
import type { RoutingTablePeer } from '../../p2p/dht/routing-table-view.ts'
import type { WebkadSession } from '../../p2p/session.ts'

const SIZE = 360
const CENTER = SIZE / 2
const RADIUS = 140
/** Hops are drawn one after another, then all stay; long lookups are compressed into this. */
const REQUEST_STAGGER_MS = 90
const MAX_REQUEST_DELAY_MS = 2500

interface Point { x: number, y: number }

/** Position on the ring from the first 32 bits of a Kademlia ID; 0 is at the top, clockwise. */
function pointOn (fraction: number, radius = RADIUS): Point {
  const angle = fraction * 2 * Math.PI - Math.PI / 2
  return { x: CENTER + radius * Math.cos(angle), y: CENTER + radius * Math.sin(angle) }
}

/**
 * The 256-bit ID space as a circle: this tab, its routing-table peers and, for the chosen
 * lookup, its target, the peers it asked and the order it asked them in.
 */
export function KeyspaceRing ({ session, selectedQueryId, onSelectQuery }: {
  session: WebkadSession
  selectedQueryId?: string
  onSelectQuery: (id: string | undefined) => void
}): React.JSX.Element {
  const table = useStore(session.routingTable)
  const queries = useStore(session.queries)
  const [replay, setReplay] = useState(0)
  const titleId = useId()
  const descId = useId()
  const selected = queries.find(query => query.id === selectedQueryId)
  const peers = table.buckets.flatMap(bucket => bucket.peers)
  const self = table.localKadId === '' ? undefined : pointOn(ringFraction(table.localKadId))

  return (
    <section className="panel" aria-labelledby="ring-title">
      <h2 id="ring-title">Keyspace ring</h2>
      <div className="ring-body">
        <div className="ring-controls">
          <label htmlFor="ring-query">Lookup shown</label>
          <select id="ring-query" value={selected?.id ?? ''} onChange={(event) => { onSelectQuery(event.target.value === '' ? undefined : event.target.value) }}>
            <option value="">none</option>
            {queries.map(query => <option key={query.id} value={query.id}>{query.operation} {query.label.length > 40 ? `${query.label.slice(0, 40)}…` : query.label} ({query.status})</option>)}
          </select>
          <button type="button" disabled={selected == null} onClick={() => { setReplay(count => count + 1) }}>Replay requests</button>
        </div>
        <svg className="ring" viewBox={`0 0 ${SIZE} ${SIZE}`} role="img" aria-labelledby={`${titleId} ${descId}`}>
          <title id={titleId}>Keyspace ring</title>
          <desc id={descId}>{describeRing(table.localKadId, peers.length, selected)}</desc>
          <circle className="ring-track" cx={CENTER} cy={CENTER} r={RADIUS} />
          <RingTicks labelledAt={selected == null ? undefined : ringFraction(selected.targetKadId)} />
          {peers.map(peer => <RoutingPeerDot key={peer.peerId} peer={peer} />)}
          {selected != null && <LookupOverlay key={`${selected.id}-${replay}`} trace={selected} self={self} />}
          {self != null && (
            <g className="ring-self">
              <circle cx={self.x} cy={self.y} r={7}><title>This tab, Kademlia ID {table.localKadId}</title></circle>
              <RingLabel at={self} text="this tab" offset={-22} />
            </g>
          )}
        </svg>
        <ul className="legend" aria-label="Ring legend">
          <li><span className="ring-key ring-key-self" aria-hidden="true" />this tab</li>
          <li><span className="chip-dot conn-webrtc" aria-hidden="true" />routing-table peer (colour: connection)</li>
          <li><span className="ring-key ring-key-target" aria-hidden="true" />lookup target</li>
          <li><span className="ring-key ring-key-asked" aria-hidden="true" />peer asked</li>
          <li><span className="ring-key ring-key-failed" aria-hidden="true" />could not be asked</li>
          <li><span className="ring-key ring-key-request" aria-hidden="true" />request, in order</li>
        </ul>
        {selected == null && <p className="hint">Choose a lookup here or open one under Lookups to draw its requests.</p>}
      </div>
    </section>
  )
}

/** Quarter marks; a mark's label steps aside for the target label drawn at the same spot. */
function RingTicks ({ labelledAt }: { labelledAt?: number }): React.JSX.Element {
  const crowded = (fraction: number): boolean => labelledAt != null && Math.min(Math.abs(labelledAt - fraction), 1 - Math.abs(labelledAt - fraction)) < 0.04
  return (
    <g className="ring-ticks" aria-hidden="true">
      {[0, 0.25, 0.5, 0.75].map(fraction => {
        const inner = pointOn(fraction, RADIUS - 6)
        const outer = pointOn(fraction, RADIUS + 6)
        const text = pointOn(fraction, RADIUS + 20)
        return (
          <g key={fraction}>
            <line x1={inner.x} y1={inner.y} x2={outer.x} y2={outer.y} />
            {!crowded(fraction) && <text x={text.x} y={text.y} textAnchor="middle" dominantBaseline="middle">0x{(fraction * 256).toString(16).padStart(2, '0')}…</text>}
          </g>
        )
      })}
    </g>
  )
}

function RoutingPeerDot ({ peer }: { peer: RoutingTablePeer }): React.JSX.Element {
  const at = pointOn(ringFraction(peer.kadId))
  return (
    <circle className={`ring-peer conn-${peer.connection}`} cx={at.x} cy={at.y} r={5}>
      <title>{`${shortPeerId(peer.peerId)} (${CONNECTION_TEXT[peer.connection]}), Kademlia ID ${shortKadId(peer.kadId)}, distance ${peer.distance}`}</title>
    </circle>
  )
}

function LookupOverlay ({ trace, self }: { trace: QueryTrace, self?: Point }): React.JSX.Element {
  const target = pointOn(ringFraction(trace.targetKadId))
  const place = (distanceHex: string): Point => pointOn(ringFraction(kadPrefixFromDistance(distanceHex, trace.targetKadId)))
  const steps = lookupSteps(trace)
  return (
    <g className="ring-lookup">
      {steps.map((step, index) => <RequestCurve key={`${step.from?.peer ?? 'self'}-${step.to.peer}`} step={step} index={index} from={step.from == null ? self : place(step.from.distanceHex)} to={place(step.to.distanceHex)} />)}
      {contactedPeers(trace).map(contact => <ContactRing key={contact.peer.peer} contact={contact} at={place(contact.peer.distanceHex)} />)}
      <g className="ring-target">
        <path d={`M ${target.x} ${target.y - 9} L ${target.x + 9} ${target.y} L ${target.x} ${target.y + 9} L ${target.x - 9} ${target.y} Z`}>
          <title>{`Target of ${trace.operation} ${trace.label}: Kademlia ID ${trace.targetKadId}`}</title>
        </path>
        <RingLabel at={target} text="target" offset={18} />
      </g>
    </g>
  )
}

/**
 * A request drawn as a curve bowing towards the centre; long chords bow more, short ones stay
 * near the chord so requests between neighbours do not loop.
 */
function RequestCurve ({ step, index, from, to }: { step: LookupStep, index: number, from?: Point, to: Point }): React.JSX.Element | null {
  if (from == null) return null
  const pull = 1 - 0.7 * (Math.hypot(to.x - from.x, to.y - from.y) / (2 * RADIUS))
  const control = { x: CENTER + ((from.x + to.x) / 2 - CENTER) * pull, y: CENTER + ((from.y + to.y) / 2 - CENTER) * pull }
  return (
    <path
      className="ring-request"
      d={`M ${from.x} ${from.y} Q ${control.x} ${control.y} ${to.x} ${to.y}`}
      pathLength={1}
      style={{ animationDelay: `${Math.min(index * REQUEST_STAGGER_MS, MAX_REQUEST_DELAY_MS)}ms` }}
    >
      <title>{`Request ${index + 1}: ${step.from == null ? 'from this tab\'s table' : `learnt from ${shortPeerId(step.from.peer)}`} to ${shortPeerId(step.to.peer)} (distance to target ${step.to.distance}) at ${Math.round(step.at)} ms`}</title>
    </path>
  )
}

function ContactRing ({ contact, at }: { contact: ContactedPeer, at: Point }): React.JSX.Element {
  return (
    <circle className={`ring-contact contact-${contact.state}${contact.hasRecord ? ' has-record' : ''}`} cx={at.x} cy={at.y} r={9}>
      <title>{`${shortPeerId(contact.peer.peer)}: ${contact.state}${contact.hasRecord ? ', had the record' : ''}; distance to target ${contact.peer.distance}`}</title>
    </circle>
  )
}

/** A label moved off the ring (inwards when `offset` < 0) so it does not cover the dots. */
function RingLabel ({ at, text, offset }: { at: Point, text: string, offset: number }): React.JSX.Element {
  const dx = at.x - CENTER
  const dy = at.y - CENTER
  const length = Math.hypot(dx, dy) || 1
  const x = CENTER + (dx / length) * (RADIUS + offset)
  const y = CENTER + (dy / length) * (RADIUS + offset)
  return <text className="ring-label" x={x} y={y} textAnchor="middle" dominantBaseline="middle">{text}</text>
}

function describeRing (localKadId: string, peerCount: number, selected?: QueryTrace): string {
  const position = (hex: string): string => `${Math.round(ringFraction(hex) * 360)}°`
  const parts = [localKadId === '' ? 'This tab is not connected.' : `This tab at ${position(localKadId)}, ${peerCount} routing-table peer(s) around the ring.`]
  if (selected != null) {
    const contacts = contactedPeers(selected)
    parts.push(`${selected.operation} ${selected.label}: target at ${position(selected.targetKadId)}, ${contacts.length} peer(s) asked, ${lookupSteps(selected).length} request(s), ${selected.status}.`)
  }
  return parts.join(' ')
}
