/**
 * The block worker (see worker-blockstore.ts): a tab's file blocks read and written in
 * IndexedDB off the main thread, through blockstore-idb on the same database the tab opens.
 */
import { IDBBlockstore } from 'blockstore-idb'
import { serveBlockWorker } from './worker-blockstore.ts'
import type { BlockWorkerPort } from './worker-blockstore.ts'

serveBlockWorker(self as unknown as BlockWorkerPort, async (database) => {
  const store = new IDBBlockstore(database)
  await store.open()
  return store
})
