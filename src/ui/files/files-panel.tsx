import { useEffect, useRef, useState } from 'react'
import { openBrowserFileStorage } from '../../p2p/files/browser-storage.ts'
import { fileLinkFragment } from '../../p2p/files/blocks.ts'
import { FileSharing } from '../../p2p/files/file-sharing.ts'
import { CopyButton } from '../common/copy-button.tsx'
import { ErrorMessage } from '../common/error-message.tsx'
import { formatBytes, formatMs, shortPeerId } from '../common/format.ts'
import { useOperation } from '../hooks/use-operation.ts'
import { useStore } from '../hooks/use-store.ts'
import { saveFile } from './save-file.ts'
import type { FileEntry, ShareResult, TransferView } from '../../p2p/files/file-sharing.ts'
import type { FindProvidersResult } from '../../p2p/files/provider-operations.ts'
import type { WebkadSession } from '../../p2p/session.ts'

declare global {
  interface Window { webkadFiles?: FileSharing }
}

const sharings = new WeakMap<WebkadSession, Promise<FileSharing>>()

/** One FileSharing per session (StrictMode mounts twice), on the tab's IndexedDB storage. */
async function fileSharingOf (session: WebkadSession): Promise<FileSharing> {
  let sharing = sharings.get(session)
  if (sharing == null) {
    sharing = (async () => {
      const created = new FileSharing(session, await openBrowserFileStorage(session.peerId), { uploadBytesPerSecond: uploadCapOf(window.location.search) })
      await created.start()
      // For the console, the e2e tests' page checks and the bench.
      Object.defineProperty(window, 'webkadFiles', { value: created, configurable: true })
      return created
    })()
    sharings.set(session, sharing)
  }
  return await sharing
}

/** `?uploadKiBps=N` caps what this tab serves (to share a slow uplink fairly, or to watch a transfer). */
function uploadCapOf (search: string): number | undefined {
  const kib = Number(new URLSearchParams(search).get('uploadKiBps'))
  return Number.isFinite(kib) && kib > 0 ? kib * 1024 : undefined
}

/** Share a file, fetch one by CID or link, watch transfers, download and remove files. */
export function FilesPanel ({ session }: { session: WebkadSession }): React.JSX.Element {
  const [sharing, setSharing] = useState<FileSharing>()
  const [loadError, setLoadError] = useState<Error>()
  useEffect(() => {
    let live = true
    fileSharingOf(session).then((created) => { if (live) setSharing(created) }, (err: unknown) => { if (live) setLoadError(err as Error) })
    return () => { live = false }
  }, [session])
  return (
    <section className="panel files-panel" aria-labelledby="files-title">
      <h2 id="files-title">Files</h2>
      {loadError != null && <ErrorMessage error={{ name: loadError.name, message: loadError.message }} headline="The file storage could not be opened" />}
      {sharing == null ? (loadError == null && <p className="hint">Opening the file storage…</p>) : <FilesBody session={session} sharing={sharing} />}
    </section>
  )
}

function FilesBody ({ session, sharing }: { session: WebkadSession, sharing: FileSharing }): React.JSX.Element {
  const files = useStore(sharing.files)
  const transfers = useStore(sharing.transfers)
  const state = useStore(session.state)
  const share = useOperation(async (signal, file: File) => await sharing.share(file, { signal }))
  const fetch = useOperation(async (signal, text: string) => await sharing.fetch(text, { signal }))
  const find = useOperation(async (signal, text: string) => await sharing.findProviders(text, { signal }))
  const [cidText, setCidText] = useState(() => window.location.hash.includes('cid=') ? window.location.href : '')
  const [dragging, setDragging] = useState(false)
  const openedLink = useRef(false)
  const online = state.status === 'online'

  // Opening a `#cid=…` link fetches the file as soon as the tab is online.
  useEffect(() => {
    if (!online || openedLink.current || !window.location.hash.includes('cid=')) return
    openedLink.current = true
    fetch.start(window.location.href)
  }, [online, fetch])

  const onFiles = (list: FileList | null): void => {
    const file = list?.[0]
    if (file != null) share.start(file)
  }

  return (
    <>
      <div
        className={dragging ? 'drop-zone dragging' : 'drop-zone'}
        onDragOver={(event) => { event.preventDefault(); setDragging(true) }}
        onDragLeave={() => { setDragging(false) }}
        onDrop={(event) => { event.preventDefault(); setDragging(false); onFiles(event.dataTransfer.files) }}
      >
        <label htmlFor="share-file">Choose a file to share</label>
        <input id="share-file" type="file" onChange={(event) => { onFiles(event.target.files); event.target.value = '' }} disabled={share.state.phase === 'running'} />
        <p className="hint">or drop it here. It is cut into 256 KiB blocks named by their SHA-256 and announced in the DHT.</p>
      </div>
      <div aria-live="polite">
        {share.state.phase === 'running' && <ImportProgress transfers={transfers} />}
        {share.state.phase === 'failed' && <ErrorMessage error={share.state.error} headline="Not shared" />}
        {share.state.phase === 'done' && <SharedResult result={share.state.result} />}
      </div>

      <form className="fetch-form" onSubmit={(event) => { event.preventDefault(); fetch.start(cidText) }}>
        <label htmlFor="fetch-cid">CID or link to fetch</label>
        <input id="fetch-cid" spellCheck={false} autoComplete="off" value={cidText} placeholder="bafy… or …#cid=bafy…" onChange={(event) => { setCidText(event.target.value) }} />
        <div className="actions">
          <button type="submit" disabled={fetch.state.phase === 'running' || !online}>Fetch</button>
          <button type="button" onClick={() => { find.start(cidText) }} disabled={find.state.phase === 'running' || !online}>Find providers</button>
        </div>
        {!online && <p className="hint">Connect to a relay to share and fetch.</p>}
      </form>
      <div aria-live="polite">
        {find.state.phase === 'running' && <p className="hint">Looking for providers…</p>}
        {find.state.phase === 'failed' && <ErrorMessage error={find.state.error} headline={find.state.error.name === 'NoProvidersError' ? 'No providers found' : 'Lookup failed'} />}
        {find.state.phase === 'done' && <ProvidersFound result={find.state.result} />}
        {fetch.state.phase === 'failed' && <ErrorMessage error={fetch.state.error} headline={fetchFailureHeadline(fetch.state.error.name)} />}
      </div>

      {transfers.filter(view => view.kind === 'fetch').length > 0 && (
        <ul className="transfers" aria-label="Transfers">
          {transfers.filter(view => view.kind === 'fetch').map(view => <TransferItem key={view.cid} view={view} onCancel={() => { sharing.cancel(view.cid) }} />)}
        </ul>
      )}

      <FileTable files={files} sharing={sharing} />
    </>
  )
}

function fetchFailureHeadline (name: string): string {
  if (name === 'NoProvidersError') return 'No providers found'
  if (name === 'InvalidCidError') return 'Not a file CID'
  if (name === 'StorageQuotaError') return 'Storage full'
  if (name === 'OperationAbortedError') return 'Cancelled'
  return 'Fetch failed'
}

function ImportProgress ({ transfers }: { transfers: readonly TransferView[] }): React.JSX.Element {
  const view = transfers.find(item => item.kind === 'import' && !item.done)
  const detail = view?.import
  return (
    <div className="result">
      <p className="hint">Chunking and hashing {view?.name ?? 'the file'}…</p>
      {detail != null && <progress aria-label={`Import of ${view?.name ?? 'file'}`} max={Math.max(1, detail.totalBytes)} value={detail.bytesRead} />}
    </div>
  )
}

function SharedResult ({ result }: { result: ShareResult }): React.JSX.Element {
  const link = `${window.location.origin}${window.location.pathname}${window.location.search}${fileLinkFragment(result.entry.cid, result.entry.name)}`
  return (
    <div className="result dht-result" role="region" aria-label="Shared file">
      <p>Shared <strong>{result.entry.name}</strong> ({formatBytes(result.entry.size)}, {result.entry.blocks} blocks).</p>
      <div className="mono-row"><span>Root CID</span> <code data-testid="shared-cid">{result.entry.cid}</code> <CopyButton text={result.entry.cid} label="Copy CID" /></div>
      <div className="mono-row"><a href={link}>Link to this file</a> <CopyButton text={link} label="Copy link" /></div>
      {result.provide != null && (
        <p data-testid="provide-result" data-accepted={result.provide.accepted.length}>
          Provider record stored on {result.provide.accepted.length} peer(s) in {formatMs(result.provide.durationMs)}: {result.provide.accepted.map(shortPeerId).join(', ')}
        </p>
      )}
      {result.provideError != null && <p className="hint">Not announced yet: {result.provideError}</p>}
    </div>
  )
}

function ProvidersFound ({ result }: { result: FindProvidersResult }): React.JSX.Element {
  return (
    <div className="result" role="region" aria-label="Find providers result">
      <p>{result.providers.length} provider(s) found in {formatMs(result.durationMs)}:</p>
      <ul className="peer-ids" aria-label="Providers found">
        {result.providers.map(provider => <li key={provider.peerId.toString()}><code title={provider.peerId.toString()}>{shortPeerId(provider.peerId.toString())}</code></li>)}
      </ul>
    </div>
  )
}

function TransferItem ({ view, onCancel }: { view: TransferView, onCancel: () => void }): React.JSX.Element {
  const progress = view.progress
  const total = progress?.totalBytes
  const phase = view.error != null ? 'failed' : (progress?.phase ?? 'finding-providers')
  return (
    <li className="transfer" aria-label={`Transfer of ${view.name}`} data-testid="transfer" data-cid={view.cid} data-phase={phase} data-bytes={progress?.bytes ?? 0} data-resumed={progress?.resumedBytes ?? 0} data-total={total ?? ''}>
      <div className="transfer-head">
        <strong className="transfer-name">{view.name}</strong>
        <span className="hint">{phaseText(phase)}</span>
        {!view.done && <button type="button" onClick={onCancel}>Cancel</button>}
      </div>
      <progress aria-label={`Progress of ${view.name}`} max={Math.max(1, total ?? 1)} value={total != null ? progress?.bytes ?? 0 : undefined} />
      {progress != null && (
        <p className="facts byte-count">
          <span>{formatBytes(progress.bytes)}{total != null ? ` of ${formatBytes(total)}` : ''}</span>
          <span>{formatBytes(progress.rate)}/s</span>
          {progress.secondsLeft != null && !view.done && <span>{Math.ceil(progress.secondsLeft)} s left</span>}
          {progress.resumedBytes > 0 && <span>{formatBytes(progress.resumedBytes)} resumed</span>}
        </p>
      )}
      {view.providersFound != null && <p className="hint">Providers found: {view.providersFound.length}</p>}
      {progress != null && progress.providers.length > 0 && (
        <ul className="provider-shares" aria-label={`Providers of ${view.name}`}>
          {progress.providers.map(share => (
            <li key={share.peer} data-testid="provider-share" data-peer={share.peer} data-bytes={share.bytes} data-state={share.state}>
              <code title={share.peer}>{shortPeerId(share.peer)}</code> {share.state} · {formatBytes(share.bytes)}
              {progress.bytes - progress.resumedBytes > 0 && ` (${Math.round(100 * share.bytes / (progress.bytes - progress.resumedBytes))} %)`}
              {share.reason != null && <span className="bad"> — {share.reason}</span>}
            </li>
          ))}
        </ul>
      )}
      {progress?.message != null && view.error == null && <p className="hint">{progress.message}</p>}
      {view.error != null && <ErrorMessage error={view.error} headline={fetchFailureHeadline(view.error.name)} />}
    </li>
  )
}

function phaseText (phase: string): string {
  switch (phase) {
    case 'finding-providers': return 'finding providers…'
    case 'fetching': return 'fetching'
    case 'waiting-for-providers': return 'waiting for providers…'
    case 'done': return 'done'
    case 'cancelled': return 'cancelled'
    default: return 'failed'
  }
}

function FileTable ({ files, sharing }: { files: readonly FileEntry[], sharing: FileSharing }): React.JSX.Element {
  const download = useOperation(async (_signal, entry: FileEntry) => { await saveFile(sharing, entry) })
  const remove = useOperation(async (_signal, cid: string) => { await sharing.remove(cid) })
  if (files.length === 0) return <p className="hint">No files in this tab yet.</p>
  return (
    <>
      <table className="files-table" aria-label="Files in this tab">
        <thead><tr><th scope="col">Name</th><th scope="col">Size</th><th scope="col">Blocks</th><th scope="col">Providing</th><th scope="col"><span className="visually-hidden">Actions</span></th></tr></thead>
        <tbody>
          {files.map(entry => {
            const next = sharing.nextReprovide(entry)
            return (
              <tr key={entry.cid} data-testid="file-row" data-cid={entry.cid} data-complete={entry.complete} data-providing={entry.providing}>
                <td><span title={entry.cid}>{entry.name}</span></td>
                <td className="byte-count">{entry.complete ? formatBytes(entry.size) : 'incomplete'}</td>
                <td className="byte-count">{entry.complete ? entry.blocks : '–'}</td>
                <td>{entry.providing ? (next != null ? <span title={`kad-dht re-provides it around ${new Date(next).toLocaleString()}`}>yes, again {new Date(next).toLocaleTimeString()}</span> : 'yes') : 'no'}</td>
                <td className="actions">
                  {entry.complete && <button type="button" aria-label={`Download ${entry.name}`} onClick={() => { download.start(entry) }}>Download</button>}
                  <CopyButton text={entry.cid} label={`Copy CID of ${entry.name}`} />
                  <button type="button" aria-label={`Remove ${entry.name}`} onClick={() => { remove.start(entry.cid) }}>Remove</button>
                </td>
              </tr>
            )
          })}
        </tbody>
      </table>
      {download.state.phase === 'failed' && <ErrorMessage error={download.state.error} headline="Download failed" />}
      {remove.state.phase === 'failed' && <ErrorMessage error={remove.state.error} headline="Not removed" />}
    </>
  )
}
