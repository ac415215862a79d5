import { MessageChannel } from 'node:worker_threads'
import { describe, expect, it } from 'vitest'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { importBytes } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { peerIdFromString } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { readBlock } from '../../../src/p2p/files/blocks.ts'
import { fetchDag } from '../../../src/p2p/files/file-fetch.ts'
import { serveBlockWorker, WorkerBlockstore } from '../../../src/p2p/files/worker-blockstore.ts'
import type { BlockWorkerPort, WorkerSideStore } from '../../../src/p2p/files/worker-blockstore.ts'
import type { BlockChannel, BlockService } from '../../../src/p2p/services/blocks/index.ts'

async function rawCid (bytes: Uint8Array): Promise<CID> {
  return CID.createV1(raw.code, await sha256.digest(bytes))
}

/** The tab's end and the worker's end of a real MessageChannel (structured clone and transfer, as with a Worker). */
function connected (workerStore: (database: string) => Promise<WorkerSideStore>, local: MemoryBlockstore): { blockstore: WorkerBlockstore, opened: string[] } {
  const { port1, port2 } = new MessageChannel()
  const opened: string[] = []
  serveBlockWorker(port2 as unknown as BlockWorkerPort, async (database) => { opened.push(database); return await workerStore(database) })
  return { blockstore: new WorkerBlockstore(port1 as unknown as BlockWorkerPort, local), opened }
}

describe('WorkerBlockstore', () => {
  it('puts and gets through the worker, into the database the tab has open: the caller keeps its bytes, the reader gets equal ones', async () => {
    const shared = new MemoryBlockstore()
    const { blockstore, opened } = connected(async () => shared, shared)
    await blockstore.open('webkad-blocks-test')
    expect(opened).toEqual(['webkad-blocks-test'])
    const bytes = new Uint8Array(256 * 1024).map((_, index) => index % 251)
    const cid = await rawCid(bytes)
    await blockstore.put(cid, bytes)
    // Transferred as a copy: the caller's buffer is not detached.
    expect(bytes.byteLength).toBe(256 * 1024)
    expect(await blockstore.has(cid)).toBe(true)
    expect(await readBlock(blockstore, cid)).toEqual(bytes)
    expect(await readBlock(shared, cid)).toEqual(bytes)
    await blockstore.delete(cid)
    expect(await shared.has(cid)).toBe(false)
  })

  it('passes the error name through (NotFoundError for a missing block, QuotaExceededError for a full store), so callers branch as on IndexedDB', async () => {
    const local = new MemoryBlockstore()
    const full: WorkerSideStore = {
      put: async () => { throw Object.assign(new Error('quota exceeded'), { name: 'QuotaExceededError' }) },
      get: local.get.bind(local)
    }
    const { blockstore } = connected(async () => full, local)
    await blockstore.open('db')
    const cid = await rawCid(new Uint8Array([1, 2, 3]))
    await expect(readBlock(blockstore, cid)).rejects.toMatchObject({ name: 'NotFoundError' })
    await expect(blockstore.put(cid, new Uint8Array([1, 2, 3]))).rejects.toMatchObject({ name: 'QuotaExceededError', message: 'quota exceeded' })
  })

  it('refuses requests before a database is open, and stops waiting on an aborted signal', async () => {
    const local = new MemoryBlockstore()
    let releasePut: (() => void) | undefined
    const slow: WorkerSideStore = {
      put: async (cid) => { await new Promise<void>((resolve) => { releasePut = resolve }); return cid },
      get: local.get.bind(local)
    }
    const { blockstore } = connected(async () => slow, local)
    const cid = await rawCid(new Uint8Array([9]))
    await expect(blockstore.put(cid, new Uint8Array([9]))).rejects.toMatchObject({ name: 'InvalidStateError' })
    await blockstore.open('db')
    const controller = new AbortController()
    const put = blockstore.put(cid, new Uint8Array([9]), { signal: controller.signal })
    await new Promise<void>((resolve) => { setTimeout(resolve, 20) })
    controller.abort(new Error('cancelled'))
    await expect(put).rejects.toThrow('cancelled')
    releasePut?.()
    await expect(blockstore.put(cid, new Uint8Array([9]), { signal: AbortSignal.abort() })).rejects.toBeDefined()
  })

  it('a whole transfer stores every block through it (40 blocks, 16 in flight)', async () => {
    const source = new MemoryBlockstore()
    const content = new Uint8Array(40 * 1024).map((_, index) => (index * 13) % 251)
    const { cid: root } = await importBytes(content, source, { rawLeaves: true, cidVersion: 1, chunker: fixedSize({ chunkSize: 1024 }) })
    const channel: BlockChannel = { peer: peerIdFromString('12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'), pending: 0, closed: false, request: async cid => await readBlock(source, cid), close: () => {} }
    const blocks = { setBlockSource: () => {}, openChannel: async () => channel } as unknown as BlockService
    const stored = new MemoryBlockstore()
    const { blockstore } = connected(async () => stored, stored)
    await blockstore.open('db')
    const result = await fetchDag({ blocks, blockstore, root, providers: [{ peerId: channel.peer, multiaddrs: [], from: channel.peer.toString() }], signal: AbortSignal.timeout(5_000) })
    expect(result.totalBytes).toBe(content.byteLength)
    let count = 0
    for await (const _ of stored.getAll()) count++
    expect(count).toBe(result.blocks)
  })
})
