import { useState } from 'react'
import { useNow } from '../hooks/use-now.ts'
import { useStore } from '../hooks/use-store.ts'
import { formatBytes, shortPeerId } from '../common/format.ts'
import type { HeldRecord, RecordArrival } from '../../p2p/dht/record-holding.ts'
import type { WebkadSession } from '../../p2p/session.ts'

const ARRIVAL_TEXT: Record<RecordArrival, string> = {
  own: 'its own Put',
  author: 'PUT from its author',
  copy: 'holder replication',
  cache: 'cache after a Get'
}

const ARRIVAL_HINT: Record<RecordArrival, string> = {
  own: 'This tab wrote the record.',
  author: 'The author stored it here (a Put or a republish).',
  copy: 'Another holder (or a Get correcting this tab) sent it while this tab is among the k closest it knows.',
  cache: 'Sent after a Get while at least k known peers are closer to the key: kept for less time, the farther the less.'
}

function inTime (ms: number): string {
  if (ms <= 0) return 'now'
  const seconds = Math.round(ms / 1000)
  if (seconds < 120) return `in ${seconds} s`
  const minutes = Math.round(seconds / 60)
  if (minutes < 120) return `in ${minutes} min`
  return `in ${Math.round(minutes / 60)} h`
}

/** The records this tab holds for the network: how each arrived, until when, and the bytes used. */
export function StoredHerePanel ({ session }: { session: WebkadSession }): React.JSX.Element {
  const held = useStore(session.storage.held)
  const storage = useStore(session.storage.state)
  const now = useNow()
  const [clearing, setClearing] = useState<'idle' | 'confirm' | 'busy'>('idle')
  const [cleared, setCleared] = useState<string>()
  const self = session.peerId.toString()

  const clear = (): void => {
    setClearing('busy')
    session.storage.clear().then((removed) => {
      setCleared(`Cleared ${removed} entr${removed === 1 ? 'y' : 'ies'} (records, peer store); chat history is kept.`)
    }, (err: unknown) => {
      setCleared(`Could not clear the storage: ${(err as Error).message}`)
    }).finally(() => { setClearing('idle') })
  }

  return (
    <section className="panel wide" aria-labelledby="stored-title" id="stored-here">
      <h2 id="stored-title">Stored here</h2>
      <p className="hint" data-testid="storage-where">
        {storage.where === 'disk' ? 'Kept in this tab\'s IndexedDB (one database per identity): a reload keeps records, peers and the routing table.' : 'Kept in memory: lost when the tab closes.'}
        {storage.droppedOnLoad != null && storage.droppedOnLoad > 0 ? ` ${storage.droppedOnLoad} expired record(s) were dropped when the tab opened.` : ''}
      </p>
      {storage.problem != null && <p role="alert" className="error-text">{storage.problem}</p>}
      <p data-testid="stored-counts" data-total={held.records.length} data-bytes={held.bytes}>
        {held.records.length} record(s), {formatBytes(held.bytes)}: {held.counts.own} own, {held.counts.author} from their author, {held.counts.copy} replicated, {held.counts.cache} cached
      </p>
      {held.records.length === 0
        ? <p className="hint">No records yet: a Put stores on the k closest peers to its key; this tab holds the records it is among the closest to.</p>
        : (
          <div className="table-scroll" tabIndex={0} role="region" aria-label="Records stored here">
            <table className="stored-table">
              <thead>
                <tr><th scope="col">Key</th><th scope="col">Author</th><th scope="col">Seq.</th><th scope="col">Arrived as</th><th scope="col">Kept until</th><th scope="col">Expires</th><th scope="col">Bytes</th></tr>
              </thead>
              <tbody>
                {held.records.map((record: HeldRecord) => (
                  <tr key={record.key} data-testid="stored-record" data-key={record.key} data-arrival={record.arrival} data-keep-until={record.keepUntil} data-expires-at={record.expiresAt} data-received-at={record.receivedAt} data-closer-peers={record.closerPeers} data-from={record.from ?? ''} data-sequence={record.sequence.toString()}>
                    <th scope="row"><code title={record.key}>{record.key}</code></th>
                    <td><code title={record.author}>{record.author === self ? 'this tab' : shortPeerId(record.author)}</code></td>
                    <td>{record.sequence.toString()}</td>
                    <td title={ARRIVAL_HINT[record.arrival]}>
                      {ARRIVAL_TEXT[record.arrival]}
                      {record.from != null && record.arrival !== 'author' && <> from <code title={record.from}>{shortPeerId(record.from)}</code></>}
                      {record.arrival === 'cache' && <> ({record.closerPeers} peers closer)</>}
                    </td>
                    <td>{inTime(record.keepUntil - now)}</td>
                    <td>{inTime(record.expiresAt - now)}</td>
                    <td>{record.bytes}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          )}
      <div className="actions">
        {clearing === 'confirm'
          ? (
            <>
              <button type="button" onClick={clear}>Yes, clear storage</button>
              <button type="button" onClick={() => { setClearing('idle') }}>Keep it</button>
            </>
            )
          : <button type="button" onClick={() => { setCleared(undefined); setClearing('confirm') }} disabled={clearing === 'busy'}>Clear this tab's storage</button>}
      </div>
      {cleared != null && <p role="status">{cleared}</p>}
    </section>
  )
}
