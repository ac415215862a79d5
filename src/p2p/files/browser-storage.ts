import { logger } from '@libp2p/logger'
import { IDBBlockstore } from 'blockstore-idb'
import { IDBDatastore } from 'datastore-idb'
import { WorkerBlockstore } from './worker-blockstore.ts'
import type { FileStorage } from './file-sharing.ts'
import type { PeerId } from '@libp2p/interface'

const log = logger('webkad:files:storage')

/** How long the block worker may take to open its database before the tab does without it. */
const WORKER_OPEN_TIMEOUT_MS = 5_000

/**
 * A tab's file storage in IndexedDB, one pair of databases per identity: the blocks
 * (`webkad-blocks-<peer>`, blockstore-idb) apart from libp2p's own datastore, and the file
 * index (`webkad-files-<peer>`). Block reads and writes run in a worker when one starts
 * (worker-blockstore.ts); otherwise on the main thread, the same database either way.
 */
export async function openBrowserFileStorage (peerId: PeerId): Promise<FileStorage> {
  const database = `webkad-blocks-${peerId.toString()}`
  const local = new IDBBlockstore(database)
  const index = new IDBDatastore(`webkad-files-${peerId.toString()}`)
  await Promise.all([local.open(), index.open()])
  return { blockstore: await inWorker(database, local) ?? local, index }
}

async function inWorker (database: string, local: IDBBlockstore): Promise<WorkerBlockstore | undefined> {
  if (typeof Worker !== 'function') return undefined
  let worker: Worker | undefined
  try {
    worker = new Worker(new URL('./block-worker.ts', import.meta.url), { type: 'module', name: 'webkad blocks' })
    const started = worker
    const failed = new Promise<never>((_resolve, reject) => { started.addEventListener('error', (event) => { reject(new Error(event.message || 'the block worker did not start')) }, { once: true }) })
    const blockstore = new WorkerBlockstore(worker, local)
    await Promise.race([blockstore.open(database, { signal: AbortSignal.timeout(WORKER_OPEN_TIMEOUT_MS) }), failed])
    return blockstore
  } catch (err) {
    log.error('file blocks stay on the main thread: %e', err)
    worker?.terminate()
    return undefined
  }
}
