import { MemoryBlockstore } from 'blockstore-core'
import { MemoryDatastore } from 'datastore-core'
import { createStore } from '../../../src/p2p/stores/store.ts'
import { FileSharing } from '../../../src/p2p/files/file-sharing.ts'
import { startDhtNetwork, stopDhtNetwork } from '../dht/dht-network.ts'
import type { TestDhtNode } from '../dht/dht-network.ts'
import type { FileBlockstore } from '../../../src/p2p/files/blocks.ts'
import type { FileSharingOptions, FilesHost } from '../../../src/p2p/files/file-sharing.ts'

/** A DHT node of the test network with the files feature on it, as a tab has (storage in memory). */
export interface FilesPeer extends TestDhtNode {
  files: FileSharing
  blockstore: MemoryBlockstore
}

/** Starts `count` connected webkad nodes (memory transport), each with a started FileSharing. */
export async function startFilesNetwork (count: number, options: { kBucketSize?: number, sharing?: (index: number) => FileSharingOptions, wrapBlockstore?: (index: number, blockstore: MemoryBlockstore) => FileBlockstore } = {}): Promise<FilesPeer[]> {
  const nodes = await startDhtNetwork(count, options.kBucketSize ?? 20)
  return await Promise.all(nodes.map(async (peer, index) => {
    const blockstore = new MemoryBlockstore()
    const host: FilesHost = {
      peerId: peer.node.peerId,
      node: peer.node,
      state: createStore({ status: 'online' }),
      traceHandler: () => () => {}
    }
    const files = new FileSharing(host, { blockstore: options.wrapBlockstore?.(index, blockstore) ?? blockstore, index: new MemoryDatastore() }, options.sharing?.(index))
    await files.start()
    return { ...peer, files, blockstore }
  }))
}

export async function stopFilesNetwork (peers: FilesPeer[]): Promise<void> {
  for (const peer of peers) peer.files.stop()
  await stopDhtNetwork(peers)
}

/** Deterministic pseudo-random bytes (xorshift), so a file's content is not trivially compressible. */
export function randomBytes (length: number, seed = 1): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(length)
  let state = seed >>> 0 || 1
  for (let index = 0; index < length; index++) {
    state ^= state << 13; state >>>= 0
    state ^= state >>> 17
    state ^= state << 5; state >>>= 0
    bytes[index] = state & 0xff
  }
  return bytes
}

export async function collect (source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  for await (const chunk of source) chunks.push(chunk)
  const out = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0))
  let offset = 0
  for (const chunk of chunks) { out.set(chunk, offset); offset += chunk.byteLength }
  return out
}
