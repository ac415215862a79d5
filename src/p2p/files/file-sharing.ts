import { logger } from '@libp2p/logger'
import { CID } from 'multiformats/cid'
import { FileNotFoundError, NotConnectedError, OperationAbortedError } from '../errors.ts'
import { delay } from '../operation.ts'
import { createCoalescedStore } from '../stores/store.ts'
import { blockLinks, parseFileCid, parseFileLink, readBlock } from './blocks.ts'
import { fetchDag } from './file-fetch.ts'
import { FileIndex, safeFileName } from './file-index.ts'
import { exportFile, importBlob } from './file-transfer.ts'
import { findFileProviders, provideFile, stopProviding } from './provider-operations.ts'
import type { FileBlockstore } from './blocks.ts'
import type { FileFetchProgressEvent, TransferProgress } from './file-fetch.ts'
import type { FileEntry } from './file-index.ts'
import type { ImportProgressEvent } from './file-transfer.ts'
import type { FindProvidersResult, ProvideResult, ProviderInfo } from './provider-operations.ts'
import type { DhtProgressEvent } from '../dht/dht-progress.ts'
import type { WebkadNode } from '../node.ts'
import type { ReadableStore } from '../stores/store.ts'
import type { TaskDefinition } from '../scheduler/scheduler.ts'
import type { PeerId } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'

export type { FileEntry } from './file-index.ts'
export type { ProviderShare, TransferProgress } from './file-fetch.ts'

const log = logger('webkad:files')

/** kad-dht re-provides a record 24 h before its 48 h validity ends, checking every hour. */
export const REPROVIDE_AFTER_MS = 24 * 60 * 60 * 1000
const FIND_PROVIDERS_TIMEOUT_MS = 30_000
/** multiformats' raw codec: a leaf, no links. */
const RAW_CODE = 0x55

/** What the files feature needs of a tab's session (WebkadSession has all of it). */
export interface FilesHost {
  readonly peerId: PeerId
  /** The running node, if connected. */
  readonly node: WebkadNode | undefined
  /** Changes whenever the node starts, stops or goes online. */
  readonly state: ReadableStore<{ status: string }>
  /** An onProgress that draws one operation's lookups in the lookup list. */
  traceHandler(): (event: DhtProgressEvent) => void
  /** Opens a direct (WebRTC) connection; blocks never go through the relay. */
  dialDirect?(peerId: string, options: { signal: AbortSignal }): Promise<unknown>
  /** Adds a periodic task to the tab's scheduler (shown in the Scheduler panel). */
  addTask?(task: TaskDefinition): void
}

/** One run of the re-provide task. */
export interface ReprovideRound {
  /** Complete files this tab provides. */
  providing: number
  /** Of those, due for a new provider record in this run. */
  due: number
  reprovided: number
  failed: number
  /** Provider records of removed files cancelled in this run. */
  stopped: number
  /** When the next file falls due (ms epoch), if any. */
  nextDueAt?: number
}

export interface FileSharingOptions {
  /** Caps the bytes per second this tab serves to all fetchers together (`?uploadKiBps=`). @default no cap */
  uploadBytesPerSecond?: number
}

export interface FileStorage {
  blockstore: FileBlockstore
  /** Where the file index lives (its own datastore, per identity). */
  index: Datastore
}

/** A fetch (or a share's import) as the panel shows it. */
export interface TransferView {
  cid: string
  name: string
  kind: 'import' | 'fetch'
  progress?: TransferProgress
  import?: ImportProgressEvent['detail']
  /** The FIND_PROVIDERS lookup's result: who announced the file. */
  providersFound?: string[]
  findQueryId?: string
  error?: { name: string, message: string }
  done: boolean
}

export interface ShareResult {
  entry: FileEntry
  provide?: ProvideResult
  /** Why the provider record could not go out (the file is kept and re-provided later). */
  provideError?: string
}

/**
 * A tab's files: share (import + provide), find providers, fetch with verification from
 * several providers, download, remove. Lives in the lazily loaded files chunk; follows the
 * session's node across reconnects (serving blocks, re-providing, resuming fetches).
 */
export class FileSharing {
  private readonly host: FilesHost
  private readonly storage: FileStorage
  private readonly index: FileIndex
  private readonly transferViews = new Map<string, TransferView>()
  private readonly running = new Map<string, AbortController>()
  private readonly transferStore = createCoalescedStore<readonly TransferView[]>(() => [...this.transferViews.values()].reverse(), 100)
  private attachedNode?: WebkadNode
  private unsubscribe?: () => void
  /** Removed files whose own provider record could not be cancelled yet (e.g. removed while offline). */
  private readonly unprovide = new Set<string>()

  private readonly uploadBytesPerSecond?: number
  /** When the upload cap lets the next block out (ms epoch). */
  private uploadFreeAt = 0

  constructor (host: FilesHost, storage: FileStorage, options: FileSharingOptions = {}) {
    this.host = host
    this.storage = storage
    this.index = new FileIndex(storage.index)
    this.uploadBytesPerSecond = options.uploadBytesPerSecond
  }

  get files (): ReadableStore<readonly FileEntry[]> { return this.index.files }
  get transfers (): ReadableStore<readonly TransferView[]> { return this.transferStore }

  /** Loads the index and starts following the session's node. */
  async start (): Promise<void> {
    await this.index.load()
    this.host.addTask?.(reprovideFilesTask(this))
    this.unsubscribe = this.host.state.subscribe(() => { this.followNode() })
    this.followNode()
  }

  stop (): void {
    this.unsubscribe?.()
    for (const controller of this.running.values()) controller.abort()
    this.attachedNode?.services.blocks.setBlockSource(undefined)
    this.attachedNode = undefined
  }

  /** Imports a file into the blockstore, indexes it and announces this tab as its provider. */
  async share (file: Blob & { name?: string }, options: { signal: AbortSignal }): Promise<ShareResult> {
    const name = safeFileName(file.name ?? 'file')
    const key = `import:${name}:${Date.now()}`
    this.setView(key, { cid: '', name, kind: 'import', done: false })
    try {
      const imported = await importBlob(file, this.storage.blockstore, {
        signal: options.signal,
        onProgress: (event) => { this.patchView(key, { import: event.detail }) }
      })
      const cid = imported.cid.toString()
      const entry: FileEntry = { cid, name, size: imported.size, blocks: imported.blocks, origin: 'shared', complete: true, providing: true, addedAt: Date.now() }
      await this.index.put({ ...entry, addedAt: this.index.get(cid)?.addedAt ?? entry.addedAt })
      this.transferViews.delete(key)
      this.transferStore.flush()
      return await this.announce(cid, options.signal)
    } catch (err) {
      this.patchView(key, { error: errorOf(err), done: true })
      throw err
    }
  }

  /** FIND_PROVIDERS for a CID (traced in the lookup list); NoProvidersError when nobody has it. */
  async findProviders (cidText: string, options: { signal: AbortSignal }): Promise<FindProvidersResult> {
    const cid = parseFileCid(cidText)
    const node = this.requireNode()
    return await findFileProviders(node, cid, { signal: AbortSignal.any([options.signal, AbortSignal.timeout(FIND_PROVIDERS_TIMEOUT_MS)]), onProgress: this.host.traceHandler() })
  }

  /**
   * Finds the providers of a CID and fetches the file's missing blocks from them, verified;
   * then this tab provides it too. Resumes from blocks already stored.
   */
  async fetch (cidText: string, options: { signal: AbortSignal, name?: string }): Promise<FileEntry> {
    const cid = parseFileCid(cidText)
    const node = this.requireNode()
    const key = cid.toString()
    const existing = this.index.get(key)
    if (existing?.complete === true) return existing
    this.running.get(key)?.abort()
    const controller = new AbortController()
    this.running.set(key, controller)
    const signal = AbortSignal.any([options.signal, controller.signal])
    const name = safeFileName(options.name ?? parseFileLink(cidText).name ?? existing?.name ?? key)
    const entry: FileEntry = existing ?? { cid: key, name, size: 0, blocks: 0, origin: 'fetched', complete: false, providing: false, addedAt: Date.now() }
    await this.index.put({ ...entry, name })
    this.setView(key, { cid: key, name, kind: 'fetch', done: false })
    try {
      // Blocks start flowing from the first provider found; the lookup goes on and adds the others.
      const early: ProviderInfo[] = []
      let addLater: ((provider: ProviderInfo) => void) | undefined
      let firstFound: (() => void) | undefined
      const first = new Promise<void>((resolve) => { firstFound = resolve })
      const lookup = findFileProviders(node, cid, {
        signal: AbortSignal.any([signal, AbortSignal.timeout(FIND_PROVIDERS_TIMEOUT_MS)]),
        onProgress: this.host.traceHandler(),
        onProvider: (provider) => {
          if (addLater != null) addLater(provider)
          else early.push(provider)
          firstFound?.()
        }
      })
      lookup.then((found) => { this.patchView(key, { providersFound: found.providers.map(p => p.peerId.toString()), findQueryId: found.queryId }) }, () => {})
      await Promise.race([first, lookup])
      const result = await fetchDag({
        blocks: node.services.blocks,
        blockstore: this.storage.blockstore,
        root: cid,
        providers: early,
        laterProviders: (add) => { addLater = add },
        connect: async (peer, connectSignal) => { await this.connectDirectly(node, peer, connectSignal) },
        findMoreProviders: async (exclude, searchSignal) => (await findFileProviders(node, cid, { signal: AbortSignal.any([searchSignal, AbortSignal.timeout(FIND_PROVIDERS_TIMEOUT_MS)]), exclude: new Set([...exclude, node.peerId.toString()]), onProgress: this.host.traceHandler(), origin: 'scheduler' }).catch(() => ({ providers: [] }))).providers,
        signal,
        onProgress: (event) => { this.onFetchProgress(key, event) }
      })
      const done = await this.index.update(key, { size: result.totalBytes, blocks: result.blocks, complete: true, providing: true })
      this.patchView(key, { done: true })
      this.transferStore.flush()
      void this.announce(key, new AbortController().signal).catch(() => {})
      return done ?? entry
    } catch (err) {
      const error = signal.aborted && !options.signal.aborted && controller.signal.aborted ? new OperationAbortedError('The transfer was cancelled; the blocks fetched so far are kept.') : err
      this.patchView(key, { error: errorOf(error), done: true })
      this.transferStore.flush()
      throw error
    } finally {
      if (this.running.get(key) === controller) this.running.delete(key)
    }
  }

  /** Cancels a running fetch; its stored blocks stay for a later resume. */
  cancel (cid: string): void {
    this.running.get(cid)?.abort()
  }

  /** Stops providing and deletes the file's blocks and index entry. */
  async remove (cid: string): Promise<void> {
    const entry = this.index.get(cid)
    if (entry == null) throw new FileNotFoundError(`${cid} is not in this tab.`)
    this.cancel(cid)
    const root = CID.parse(cid)
    const node = this.host.node
    if (node == null) this.unprovide.add(cid)
    else await stopProviding(node, root).catch((err: unknown) => { this.unprovide.add(cid); log('could not cancel reprovide of %s - %e', cid, err) })
    // Blocks of other files are kept (two files may share identical chunks).
    const keep = new Set<string>()
    for (const other of this.index.files.getSnapshot()) {
      if (other.cid === cid) continue
      for await (const block of this.walkHere(CID.parse(other.cid))) keep.add(block.toString())
    }
    // A block the file links more than once is deleted once.
    const drop = new Map<string, CID>()
    for await (const block of this.walkHere(root)) if (!keep.has(block.toString())) drop.set(block.toString(), block)
    for (const block of drop.values()) await this.storage.blockstore.delete(block)
    await this.index.remove(cid)
    this.transferViews.delete(cid)
    this.transferStore.flush()
  }

  /** The file's bytes in order, from the blocks stored here. */
  read (cid: string, options: { signal?: AbortSignal } = {}): AsyncGenerator<Uint8Array> {
    const entry = this.index.get(cid)
    if (entry?.complete !== true) throw new FileNotFoundError(`${cid} is not complete in this tab.`)
    return exportFile(CID.parse(cid), this.storage.blockstore, options)
  }

  /** When this tab's provider record of the file will be re-announced by kad-dht (ms epoch). */
  nextReprovide (entry: FileEntry): number | undefined {
    return entry.providing && entry.providedAt != null ? entry.providedAt + REPROVIDE_AFTER_MS : undefined
  }

  /**
   * Announces again each complete file this tab provides whose provider record is due
   * (`REPROVIDE_AFTER_MS` after the last), and cancels the records of removed files.
   */
  async reprovideDue (options: { signal: AbortSignal, now?: number }): Promise<ReprovideRound> {
    const now = options.now ?? Date.now()
    const node = this.host.node
    if (node == null) throw new NotConnectedError('Not connected: files are re-provided once the tab connects.')
    let stopped = 0
    for (const cid of [...this.unprovide]) {
      if (this.index.get(cid) != null) { this.unprovide.delete(cid); continue } // shared again since
      await stopProviding(node, CID.parse(cid))
      this.unprovide.delete(cid)
      stopped++
    }
    const providing = this.index.files.getSnapshot().filter(entry => entry.complete && entry.providing)
    const due = providing.filter(entry => (this.nextReprovide(entry) ?? 0) <= now)
    let reprovided = 0
    for (const entry of due) {
      const result = await this.announce(entry.cid, options.signal, 'scheduler')
      if (result.provideError == null) reprovided++
    }
    const next = this.index.files.getSnapshot().map(entry => this.nextReprovide(entry)).filter((at): at is number => at != null && at > now)
    return { providing: providing.length, due: due.length, reprovided, failed: due.length - reprovided, stopped, nextDueAt: next.length > 0 ? Math.min(...next) : undefined }
  }

  private async announce (cid: string, signal: AbortSignal, origin: 'user' | 'scheduler' = 'user'): Promise<ShareResult> {
    const node = this.host.node
    const entry = this.index.get(cid)
    if (entry == null) throw new FileNotFoundError(`${cid} is not in this tab.`)
    if (node == null) return { entry, provideError: 'Not connected: the file is announced when the tab connects.' }
    try {
      const once = async (): Promise<ProvideResult> => await provideFile(node, CID.parse(cid), { signal: AbortSignal.any([signal, AbortSignal.timeout(FIND_PROVIDERS_TIMEOUT_MS)]), onProgress: this.host.traceHandler(), origin })
      // Just after Connect a lookup may end without any peer to tell: try again shortly.
      const provide = await once().catch(async (err: unknown) => {
        if ((err as Error).name !== 'NoPeersError') throw err
        await delay(1_000, signal)
        return await once()
      })
      const updated = await this.index.update(cid, { providing: true, providedAt: provide.providedAt }) ?? entry
      return { entry: updated, provide }
    } catch (err) {
      if (signal.aborted) throw err
      return { entry: this.index.get(cid) ?? entry, provideError: (err as Error).message }
    }
  }

  /** On a new node: serve blocks from the blockstore, announce kept files, resume unfinished fetches. */
  private followNode (): void {
    const node = this.host.node
    const online = this.host.state.getSnapshot().status === 'online'
    if (node === this.attachedNode || node == null || !online) return
    this.attachedNode = node
    node.services.blocks.setBlockSource({
      get: async (cid, options) => {
        // One read, not has + get: under load each IndexedDB request waited tens of ms (files bench).
        const bytes = await readBlock(this.storage.blockstore, cid, options).catch((err: unknown) => {
          if ((err as Error).name === 'NotFoundError') return undefined
          throw err
        })
        if (bytes == null) return undefined
        await this.throttleUpload(bytes.byteLength, options.signal)
        return bytes
      }
    })
    for (const entry of this.index.files.getSnapshot()) {
      if (entry.complete && entry.providing) void this.announce(entry.cid, new AbortController().signal, 'scheduler').catch(() => {})
      if (!entry.complete && !this.running.has(entry.cid)) {
        void this.fetch(entry.cid, { signal: new AbortController().signal }).catch((err: unknown) => { log('resume of %s stopped - %e', entry.cid, err) })
      }
    }
  }

  /**
   * Blocks never go through the relay: a tab dials the provider over WebRTC; a provider with a
   * dialable address of its own (a Node peer on WebSockets) is dialled directly instead.
   */
  private async connectDirectly (node: WebkadNode, peer: PeerId, signal: AbortSignal): Promise<void> {
    if (node.getConnections(peer).some(connection => connection.status === 'open' && connection.limits == null)) return
    if (this.host.dialDirect == null) return
    try {
      await this.host.dialDirect(peer.toString(), { signal })
    } catch (err) {
      if (signal.aborted) throw err
      const connection = await node.dial(peer, { signal })
      if (connection.limits != null) throw err
    }
  }

  /** Spaces served blocks out to the upload cap, if one is set. */
  private async throttleUpload (bytes: number, signal?: AbortSignal): Promise<void> {
    if (this.uploadBytesPerSecond == null || this.uploadBytesPerSecond <= 0) return
    const now = Date.now()
    const start = Math.max(now, this.uploadFreeAt)
    this.uploadFreeAt = start + bytes / this.uploadBytesPerSecond * 1000
    if (start > now) await delay(start - now, signal)
  }

  private async * walkHere (root: CID): AsyncGenerator<CID> {
    const stack = [root]
    while (stack.length > 0) {
      const cid = stack.pop()
      if (cid == null) break
      if (!await this.storage.blockstore.has(cid)) continue
      yield cid
      if (cid.code === RAW_CODE) continue
      stack.push(...blockLinks(cid, await readBlock(this.storage.blockstore, cid)).children)
    }
  }

  private onFetchProgress (key: string, event: FileFetchProgressEvent): void {
    if (event.type === 'webkad:files:progress') this.patchView(key, { progress: event.detail })
  }

  private setView (key: string, view: TransferView): void {
    this.transferViews.set(key, view)
    this.transferStore.invalidate()
  }

  private patchView (key: string, change: Partial<TransferView>): void {
    const view = this.transferViews.get(key)
    if (view == null) return
    this.transferViews.set(key, { ...view, ...change })
    if (change.done === true || change.error != null) this.transferStore.flush()
    else this.transferStore.invalidate()
  }

  private requireNode (): WebkadNode {
    const node = this.host.node
    if (node == null) throw new NotConnectedError('Connect to a relay first.')
    return node
  }
}

/** How often the re-provide task looks for due files (kad-dht's reprovider checks hourly). */
export const REPROVIDE_CHECK_MS = 10 * 60_000

/** The Scheduler's 'reprovide-files' task: due provider records go out again; removed files' are cancelled. */
export function reprovideFilesTask (sharing: Pick<FileSharing, 'reprovideDue'>): TaskDefinition {
  return {
    id: 'reprovide-files',
    title: 'Re-provide files',
    description: `Announces this tab again as provider of each file it keeps, ${REPROVIDE_AFTER_MS / 3_600_000} h after the last provider record (they last 48 h), and cancels the records of removed files.`,
    intervalMs: REPROVIDE_CHECK_MS,
    initialDelayMs: 15_000,
    timeoutMs: 120_000,
    async run (signal) {
      const now = Date.now()
      const round = await sharing.reprovideDue({ signal, now })
      const parts = [round.due === 0 ? `${round.providing} file(s) provided, none due` : `re-provided ${round.reprovided} of ${round.due}`]
      if (round.stopped > 0) parts.push(`${round.stopped} removed file(s) no longer provided`)
      if (round.nextDueAt != null) parts.push(`next due in ${formatDuration(round.nextDueAt - now)}`)
      return {
        summary: parts.join('; '),
        // A failed announce is tried again soon; otherwise wake when the next file falls due.
        nextRunInMs: round.failed > 0 ? 60_000 : Math.max(1_000, Math.min(REPROVIDE_CHECK_MS, (round.nextDueAt ?? Infinity) - now))
      }
    }
  }
}

function formatDuration (ms: number): string {
  const minutes = Math.max(0, Math.round(ms / 60_000))
  return minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`
}

function errorOf (err: unknown): { name: string, message: string } {
  const error = err instanceof Error ? err : new Error(String(err))
  return { name: error.name, message: error.message }
}
