import { describe, expect, it } from 'vitest'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { importBytes } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import { peerIdFromString } from '@libp2p/peer-id'
import { fetchDag } from '../../../src/p2p/files/file-fetch.ts'
import { blockLinks, readBlock } from '../../../src/p2p/files/blocks.ts'
import type { FileFetchProgressEvent } from '../../../src/p2p/files/file-fetch.ts'
import type { ProviderInfo } from '../../../src/p2p/files/provider-operations.ts'
import type { BlockChannel, BlockService } from '../../../src/p2p/services/blocks/index.ts'
import type { CID } from 'multiformats/cid'
import type { AbortOptions } from '@libp2p/interface'

const PROVIDER_A = peerIdFromString('12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN')
const PROVIDER_B = peerIdFromString('12D3KooWLe1rhG5vFhrbBKbzN3PbnnNT1wEtwbGxrQiCpHd1uWNE')

interface Deferred<T> { promise: Promise<T>, resolve(value: T): void, reject(err: Error): void }
function deferred<T> (): Deferred<T> {
  let resolve!: (value: T) => void
  let reject!: (err: Error) => void
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej })
  return { promise, resolve, reject }
}

/** A channel answering from `source`, or as `answer` decides for a CID (a promise it controls). */
function channelTo (peer: typeof PROVIDER_A, answer: (cid: CID) => Promise<Uint8Array | undefined>): BlockChannel {
  let closed = false
  return {
    peer,
    pending: 0,
    get closed () { return closed },
    request: async (cid: CID) => await answer(cid),
    close: () => { closed = true }
  }
}

describe('fetchDag', () => {
  it('a block whose provider is lost while it is being stored, and that another provider then sends too, is counted once: the transfer ends only when every block is stored', async () => {
    const source = new MemoryBlockstore()
    const content = new Uint8Array(6 * 1024).map((_, index) => (index * 31) % 251)
    const { cid: root } = await importBytes(content, source, { rawLeaves: true, cidVersion: 1, chunker: fixedSize({ chunkSize: 1024 }) })
    const rootBlock = await readBlock(source, root)
    const leaves = blockLinks(root, rootBlock).children
    expect(leaves.length).toBe(6)
    const [leafX, leafY] = leaves as [CID, CID]
    const fromSource = async (cid: CID): Promise<Uint8Array> => await readBlock(source, cid)

    // A answers the root and leaf X; everything else stays pending until A is lost.
    const aPending: Array<Deferred<Uint8Array | undefined>> = []
    const loseA = (): void => { for (const request of aPending.splice(0)) request.reject(Object.assign(new Error('connection closed'), { name: 'StreamResetError' })) }
    const channelA = channelTo(PROVIDER_A, async (cid) => {
      if (cid.equals(root) || cid.equals(leafX)) return await fromSource(cid)
      const request = deferred<Uint8Array | undefined>()
      aPending.push(request)
      return await request.promise
    })
    // B answers at once, but leaf Y only once every other leaf has been counted.
    const counted = new Set<string>()
    const othersCounted = deferred<void>()
    const channelB = channelTo(PROVIDER_B, async (cid) => {
      if (cid.equals(leafY)) await othersCounted.promise
      return await fromSource(cid)
    })
    const blocks = {
      setBlockSource: () => {},
      openChannel: async (peer: typeof PROVIDER_A, _options: AbortOptions) => peer.equals(PROVIDER_A) ? channelA : channelB
    } as unknown as BlockService

    // The fetcher's store: the first write of leaf X (from A) waits until A is lost, B joined and
    // B's own copy of leaf X was stored: then both copies have been verified and written.
    const stored = new MemoryBlockstore()
    let addLater: ((provider: ProviderInfo) => void) | undefined
    const bStoredX = deferred<void>()
    let writesOfX = 0
    const blockstore = {
      has: stored.has.bind(stored),
      get: stored.get.bind(stored),
      delete: stored.delete.bind(stored),
      put: async (cid: CID, data: Uint8Array, options?: AbortOptions) => {
        if (cid.equals(leafX) && writesOfX++ === 0) {
          loseA()
          addLater?.({ peerId: PROVIDER_B, multiaddrs: [], from: PROVIDER_B.toString() })
          await bStoredX.promise
        } else if (cid.equals(leafX)) {
          const result = await stored.put(cid, data, options)
          bStoredX.resolve()
          return result
        }
        return await stored.put(cid, data, options)
      }
    }
    const onProgress = (event: FileFetchProgressEvent): void => {
      if (event.type !== 'webkad:files:block') return
      counted.add(event.detail.cid)
      if (leaves.every(leaf => leaf.equals(leafY) || counted.has(leaf.toString()))) othersCounted.resolve()
    }

    const result = await fetchDag({
      blocks,
      blockstore: blockstore as never,
      root,
      providers: [{ peerId: PROVIDER_A, multiaddrs: [], from: PROVIDER_A.toString() }],
      laterProviders: (add) => { addLater = add },
      signal: AbortSignal.timeout(10_000),
      onProgress
    })
    expect(writesOfX).toBe(2)
    // Every block is here when the transfer says it is done, and each counted once.
    for (const cid of [root, ...leaves]) expect(await stored.has(cid), `block ${cid.toString()} stored`).toBe(true)
    expect(result.blocks).toBe(leaves.length + 1)
    expect(result.totalBytes).toBe(content.byteLength)
    expect(result.providers.find(share => share.peer === PROVIDER_A.toString())?.state).toBe('gone')
    expect(result.providers.reduce((sum, share) => sum + share.bytes, 0)).toBe(content.byteLength)
  })
})

describe('fetchDag, a file that repeats its chunks', () => {
  /** A channel serving every block of `source`, counting requests per CID. */
  function servingChannel (source: MemoryBlockstore, requests: Map<string, number>): BlockService {
    const channel = channelTo(PROVIDER_A, async (cid) => {
      requests.set(cid.toString(), (requests.get(cid.toString()) ?? 0) + 1)
      return await readBlock(source, cid)
    })
    return { setBlockSource: () => {}, openChannel: async () => channel } as unknown as BlockService
  }

  it('a file of zeros (one leaf linked 64 times, one subtree linked 4 times) is fetched once per distinct block and ends with every byte counted', async () => {
    const source = new MemoryBlockstore()
    // 64 identical 1 KiB chunks under a tree of 16 links per node: 4 identical inner nodes under the root.
    const content = new Uint8Array(64 * 1024)
    const { cid: root } = await importBytes(content, source, { rawLeaves: true, cidVersion: 1, chunker: fixedSize({ chunkSize: 1024 }), layout: balanced({ maxChildrenPerNode: 16 }) })
    const inner = blockLinks(root, await readBlock(source, root)).children
    expect(inner.length).toBe(4)
    expect(new Set(inner.map(cid => cid.toString())).size).toBe(1)

    const requests = new Map<string, number>()
    const stored = new MemoryBlockstore()
    const progress: number[] = []
    const result = await fetchDag({
      blocks: servingChannel(source, requests),
      blockstore: stored,
      root,
      providers: [{ peerId: PROVIDER_A, multiaddrs: [], from: PROVIDER_A.toString() }],
      signal: AbortSignal.timeout(5_000),
      onProgress: (event) => { if (event.type === 'webkad:files:progress') progress.push(event.detail.bytes) }
    })
    // Root, one inner node, one leaf: each asked for once.
    expect(requests.size).toBe(3)
    expect([...requests.values()].every(count => count === 1)).toBe(true)
    expect(result.blocks).toBe(3)
    expect(result.totalBytes).toBe(content.byteLength)
    expect(progress.at(-1)).toBe(content.byteLength)
    expect(result.providers[0]?.bytes).toBe(content.byteLength)
  })

  it('a file mixing repeated and distinct chunks resumes from the blocks it has, counting each byte once per occurrence', async () => {
    const source = new MemoryBlockstore()
    // Chunks: A B A C A B (1 KiB each).
    const chunk = (seed: number): Uint8Array => new Uint8Array(1024).map((_, index) => (index * seed) % 251)
    const [a, b, c] = [chunk(3), chunk(7), chunk(11)]
    const content = new Uint8Array(6 * 1024)
    for (const [index, part] of [a, b, a, c, a, b].entries()) content.set(part as Uint8Array, index * 1024)
    const { cid: root } = await importBytes(content, source, { rawLeaves: true, cidVersion: 1, chunker: fixedSize({ chunkSize: 1024 }) })
    const leaves = blockLinks(root, await readBlock(source, root)).children
    // An earlier attempt stored the root and chunk A.
    const stored = new MemoryBlockstore()
    for (const cid of [root, leaves[0] as CID]) await stored.put(cid, await readBlock(source, cid))

    const requests = new Map<string, number>()
    const result = await fetchDag({
      blocks: servingChannel(source, requests),
      blockstore: stored,
      root,
      providers: [{ peerId: PROVIDER_A, multiaddrs: [], from: PROVIDER_A.toString() }],
      signal: AbortSignal.timeout(5_000)
    })
    expect([...requests.keys()].sort()).toEqual([leaves[1], leaves[3]].map(cid => cid?.toString()).sort())
    expect(result.totalBytes).toBe(content.byteLength)
    expect(result.resumedBytes).toBe(3 * 1024)
    expect(result.providers[0]?.bytes).toBe(3 * 1024)
    expect(result.blocks).toBe(4)
  })
})
