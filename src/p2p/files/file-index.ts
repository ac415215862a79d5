import { Key } from 'interface-datastore'
import { createStore } from '../stores/store.ts'
import type { ReadableStore } from '../stores/store.ts'
import type { Datastore } from 'interface-datastore'

/** A file this tab has (shared from disk, or fetched), as its index keeps it. */
export interface FileEntry {
  /** Root CID (base32 CIDv1). */
  cid: string
  /** The original file name, offered again on download. */
  name: string
  /** Bytes of the file (known once the root block is here). */
  size: number
  /** Blocks of the file stored here (all of them once `complete`). */
  blocks: number
  /** How the tab got it. */
  origin: 'shared' | 'fetched'
  /** Every block is here and verified. */
  complete: boolean
  /** kad-dht announces (and re-announces) this tab as a provider. */
  providing: boolean
  /** When this tab last wrote its provider record (kad-dht re-provides 24 h after, checking hourly). */
  providedAt?: number
  addedAt: number
}

const PREFIX = '/webkad/files/'
const MAX_NAME_LENGTH = 255

/** A name safe to offer for download: no path, no control characters, not empty. */
export function safeFileName (name: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is removed
  const cleaned = name.replace(/^.*[\\/]/, '').replace(/[\u0000-\u001f\u007f]/g, '').trim().slice(0, MAX_NAME_LENGTH)
  return cleaned === '' ? 'file' : cleaned
}

function isFileEntry (value: unknown): value is FileEntry {
  const entry = value as Partial<FileEntry> | null
  return entry != null && typeof entry.cid === 'string' && typeof entry.name === 'string' && typeof entry.size === 'number' &&
    typeof entry.blocks === 'number' && (entry.origin === 'shared' || entry.origin === 'fetched') && typeof entry.complete === 'boolean' &&
    typeof entry.providing === 'boolean' && typeof entry.addedAt === 'number'
}

/**
 * The files this tab has, persisted per identity (a datastore of its own: IndexedDB in the
 * browser), newest first. A damaged entry is skipped on load, never fatal.
 */
export class FileIndex {
  private readonly datastore: Datastore
  private readonly entries = new Map<string, FileEntry>()
  private readonly store = createStore<readonly FileEntry[]>([])

  constructor (datastore: Datastore) {
    this.datastore = datastore
  }

  get files (): ReadableStore<readonly FileEntry[]> { return this.store }

  get (cid: string): FileEntry | undefined { return this.entries.get(cid) }

  async load (): Promise<void> {
    for await (const { value } of this.datastore.query({ prefix: PREFIX })) {
      try {
        const entry: unknown = JSON.parse(new TextDecoder().decode(value))
        if (isFileEntry(entry)) this.entries.set(entry.cid, entry)
      } catch { /* a damaged entry is left out */ }
    }
    this.publish()
  }

  async put (entry: FileEntry): Promise<void> {
    this.entries.set(entry.cid, entry)
    this.publish()
    await this.datastore.put(new Key(PREFIX + entry.cid), new TextEncoder().encode(JSON.stringify(entry)))
  }

  async update (cid: string, change: Partial<FileEntry>): Promise<FileEntry | undefined> {
    const current = this.entries.get(cid)
    if (current == null) return undefined
    const next = { ...current, ...change }
    await this.put(next)
    return next
  }

  async remove (cid: string): Promise<void> {
    this.entries.delete(cid)
    this.publish()
    await this.datastore.delete(new Key(PREFIX + cid))
  }

  private publish (): void {
    this.store.set([...this.entries.values()].sort((a, b) => b.addedAt - a.addedAt))
  }
}
