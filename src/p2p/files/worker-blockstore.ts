import { CID } from 'multiformats/cid'
import { raceSignal } from 'race-signal'
import { concat } from 'uint8arrays/concat'
import type { FileBlockstore } from './blocks.ts'
import type { AbortOptions } from '@libp2p/interface'

/**
 * Block reads and writes of a transfer, done in a Worker. Writing a 256 KiB block to IndexedDB
 * costs its tab's main thread the value's structured clone (about 7 ms a block under load in the
 * files bench, a quarter of the fetcher's main thread), and reading one back costs the provider
 * as much; the worker does both on its own thread, and the bytes cross by transfer, not copy.
 */

export type BlockWorkerRequest =
  | { id: number, kind: 'open', database: string }
  | { id: number, kind: 'put', cid: Uint8Array, bytes: Uint8Array }
  | { id: number, kind: 'get', cid: Uint8Array }

export type BlockWorkerReply =
  | { id: number, ok: true, bytes?: Uint8Array }
  | { id: number, ok: false, name: string, message: string }

/** The blockstore calls the worker serves. */
export type WorkerSideStore = Pick<FileBlockstore, 'put' | 'get'>

/** What both ends of the worker channel have: a Worker, a DedicatedWorkerGlobalScope or a MessagePort. */
export interface BlockWorkerPort {
  postMessage(message: unknown, transfer: Transferable[]): void
  /** A MessagePort delivers to addEventListener only once started (a Worker needs no start). */
  start?(): void
  addEventListener(type: 'message', listener: (event: MessageEvent) => void): void
}

/** A copy of `bytes` in a buffer of its own, so it can be transferred without detaching the caller's. */
function ownedCopy (bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const copy = new Uint8Array(bytes.byteLength)
  copy.set(bytes)
  return copy
}

/** The worker's side: answers each request with the store `open` gives for the database named. */
export function serveBlockWorker (port: BlockWorkerPort, open: (database: string) => Promise<WorkerSideStore>): void {
  let store: Promise<WorkerSideStore> | undefined
  const reply = (message: BlockWorkerReply, transfer: Transferable[] = []): void => { port.postMessage(message, transfer) }
  port.addEventListener('message', (event: MessageEvent<BlockWorkerRequest>) => {
    const request = event.data
    void (async () => {
      try {
        if (request.kind === 'open') {
          store = open(request.database)
          await store
          reply({ id: request.id, ok: true })
          return
        }
        if (store == null) throw Object.assign(new Error('the block worker has no database open'), { name: 'InvalidStateError' })
        const opened = await store
        const cid = CID.decode(request.cid)
        if (request.kind === 'put') {
          await opened.put(cid, request.bytes)
          reply({ id: request.id, ok: true })
          return
        }
        const chunks: Uint8Array[] = []
        for await (const chunk of opened.get(cid)) chunks.push(chunk)
        // Always a copy (made on the worker's thread): the store may keep the array it hands out.
        const owned = ownedCopy(chunks.length === 1 && chunks[0] != null ? chunks[0] : concat(chunks))
        reply({ id: request.id, ok: true, bytes: owned }, [owned.buffer as ArrayBuffer])
      } catch (err) {
        // The name carries what callers branch on (NotFoundError, QuotaExceededError).
        reply({ id: request.id, ok: false, name: (err as Error)?.name ?? 'Error', message: (err as Error)?.message ?? String(err) })
      }
    })()
  })
  port.start?.()
}

/**
 * A FileBlockstore whose put and get go to the block worker; has and delete (small, rare) stay
 * on `local`, the same IndexedDB database opened on the main thread. A put resolves once the
 * worker's transaction has committed, so `local` sees the block from then on.
 */
export class WorkerBlockstore implements FileBlockstore {
  private readonly pending = new Map<number, { resolve(reply: BlockWorkerReply): void }>()
  private nextId = 1

  constructor (private readonly port: BlockWorkerPort, private readonly local: Pick<FileBlockstore, 'has' | 'delete'>) {
    port.addEventListener('message', (event: MessageEvent<BlockWorkerReply>) => {
      const waiting = this.pending.get(event.data.id)
      this.pending.delete(event.data.id)
      waiting?.resolve(event.data)
    })
    port.start?.()
  }

  /** Opens the database in the worker; rejects if the worker cannot (the caller then stays on the main thread). */
  async open (database: string, options?: AbortOptions): Promise<void> {
    await this.call({ kind: 'open', database }, [], options)
  }

  async put (cid: CID, bytes: Uint8Array, options?: AbortOptions): Promise<CID> {
    const owned = ownedCopy(bytes)
    await this.call({ kind: 'put', cid: cid.bytes, bytes: owned }, [owned.buffer], options)
    return cid
  }

  async * get (cid: CID, options?: AbortOptions): AsyncGenerator<Uint8Array> {
    const reply = await this.call({ kind: 'get', cid: cid.bytes }, [], options)
    if (reply.bytes == null) throw Object.assign(new Error(`no bytes for ${cid.toString()}`), { name: 'NotFoundError' })
    yield reply.bytes
  }

  async has (cid: CID, options?: AbortOptions): Promise<boolean> {
    return await this.local.has(cid, options)
  }

  async delete (cid: CID, options?: AbortOptions): Promise<void> {
    await this.local.delete(cid, options)
  }

  private async call (request: DistributiveOmit<BlockWorkerRequest, 'id'>, transfer: Transferable[], options?: AbortOptions): Promise<BlockWorkerReply & { ok: true }> {
    options?.signal?.throwIfAborted()
    const id = this.nextId++
    const replied = new Promise<BlockWorkerReply>((resolve) => { this.pending.set(id, { resolve }) })
    this.port.postMessage({ ...request, id }, transfer)
    // An aborted call stops waiting; the worker still finishes it (a put is then simply stored).
    const reply = await raceSignal(replied, options?.signal).finally(() => { if (options?.signal?.aborted === true) this.pending.delete(id) })
    if (!reply.ok) throw Object.assign(new Error(reply.message), { name: reply.name })
    return reply
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never
