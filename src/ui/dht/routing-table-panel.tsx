import { useStore } from '../hooks/use-store.ts'
import { formatAge, formatMs, shortPeerId } from '../common/format.ts'
import { CONNECTION_TEXT, shortKadId } from './dht-format.ts'
import { useNow } from '../hooks/use-now.ts'
import type { PeerConnectionState, RoutingTableBucket, RoutingTablePeer } from '../../p2p/dht/routing-table-view.ts'
import type { WebkadSession } from '../../p2p/session.ts'

const CONNECTION_ORDER: PeerConnectionState[] = ['webrtc', 'websocket', 'relayed', 'other', 'none']

/**
 * The k-buckets, one row per common-prefix length with this tab's Kademlia ID: a peer in
 * row "CPL n" shares exactly n leading bits with this tab, so higher rows are closer.
 */
export function RoutingTablePanel ({ session }: { session: WebkadSession }): React.JSX.Element {
  const table = useStore(session.routingTable)
  const now = useNow()

  return (
    <section className="panel span-2" aria-labelledby="routing-title">
      <h2 id="routing-title">Routing table <span className="count">{table.size} {table.size === 1 ? 'peer' : 'peers'}, k = {table.kBucketSize}</span></h2>
      <p className="hint">
        This tab's Kademlia ID{' '}
        {table.localKadId === ''
          ? 'appears once connected.'
          : <code title={table.localKadId} data-testid="own-kad-id" data-kad-id={table.localKadId}>{shortKadId(table.localKadId)}</code>}
      </p>
      <ConnectionLegend />
      {table.buckets.length === 0
        ? <p className="hint">No peers yet: they are added as this tab talks to the DHT.</p>
        : (
          <ol className="buckets" aria-label="k-buckets by common prefix length">
            {table.buckets.map(bucket => <BucketRow key={bucket.commonPrefixLength} bucket={bucket} k={table.kBucketSize} now={now} />)}
          </ol>
          )}
    </section>
  )
}

function BucketRow ({ bucket, k, now }: { bucket: RoutingTableBucket, k: number, now: number }): React.JSX.Element {
  const cpl = bucket.commonPrefixLength
  return (
    <li className="bucket">
      <div className="bucket-label" title={`Shares ${cpl} leading bits with this tab`}>
        <strong>CPL {cpl}</strong>
        <span className="hint">{bucket.peers.length}/{k}</span>
        <span className="bucket-fill" aria-hidden="true"><span style={{ width: `${Math.min(100, (bucket.peers.length / k) * 100)}%` }} /></span>
      </div>
      <ul className="chips" aria-label={`Peers sharing ${cpl} leading bits`}>
        {bucket.peers.map(peer => <PeerChip key={peer.peerId} peer={peer} cpl={cpl} now={now} />)}
      </ul>
    </li>
  )
}

function PeerChip ({ peer, cpl, now }: { peer: RoutingTablePeer, cpl: number, now: number }): React.JSX.Element {
  return (
    <li
      className={`chip conn-${peer.connection}`}
      data-testid="routing-peer"
      data-peer={peer.peerId}
      data-cpl={cpl}
      title={`${peer.peerId}\nKademlia ID ${peer.kadId}\n${CONNECTION_TEXT[peer.connection]}`}
    >
      <span className="chip-dot" aria-hidden="true" />
      <code>{shortPeerId(peer.peerId)}</code>
      <span className="visually-hidden">{CONNECTION_TEXT[peer.connection]}</span>
      <span className="chip-meta">
        <span title="XOR distance to this tab">d {peer.distance}</span>
        {peer.rttMs != null && <span>{formatMs(peer.rttMs)}</span>}
        <span>{peer.lastPing > 0 ? `pinged ${formatAge(peer.lastPing, now)} ago` : 'never pinged'}</span>
      </span>
    </li>
  )
}

export function ConnectionLegend (): React.JSX.Element {
  return (
    <ul className="legend" aria-label="Connection colours">
      {CONNECTION_ORDER.map(state => (
        <li key={state}><span className={`chip-dot conn-${state}`} aria-hidden="true" />{CONNECTION_TEXT[state]}</li>
      ))}
    </ul>
  )
}
