import { IDBBlockstore } from 'blockstore-idb'
import { IDBDatastore } from 'datastore-idb'
import type { FileStorage } from './file-sharing.ts'
import type { PeerId } from '@libp2p/interface'

/**
 * A tab's file storage in IndexedDB, one pair of databases per identity: the blocks
 * (`webkad-blocks-<peer>`, blockstore-idb) apart from libp2p's own datastore, and the file
 * index (`webkad-files-<peer>`).
 */
export async function openBrowserFileStorage (peerId: PeerId): Promise<FileStorage> {
  const blockstore = new IDBBlockstore(`webkad-blocks-${peerId.toString()}`)
  const index = new IDBDatastore(`webkad-files-${peerId.toString()}`)
  await Promise.all([blockstore.open(), index.open()])
  return { blockstore, index }
}
