import { shortPeerId } from '../common/format.ts'

/** Peers as short IDs (full ID in the title); this tab is named as such. */
export function PeerIdList ({ peers, selfPeerId, label, empty = 'none' }: {
  peers: readonly string[]
  selfPeerId: string
  label: string
  empty?: string
}): React.JSX.Element {
  if (peers.length === 0) return <p className="hint">{empty}</p>
  return (
    <ul className="peer-ids" aria-label={label}>
      {peers.map(peer => <li key={peer}><PeerIdText peer={peer} selfPeerId={selfPeerId} /></li>)}
    </ul>
  )
}

export function PeerIdText ({ peer, selfPeerId }: { peer: string, selfPeerId: string }): React.JSX.Element {
  return <code title={peer}>{peer === selfPeerId ? 'this tab' : shortPeerId(peer)}</code>
}
