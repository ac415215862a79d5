import { createHash } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { CID } from 'multiformats/cid'
import { collect, randomBytes, startFilesNetwork, stopFilesNetwork } from './files-network.ts'
import type { FilesPeer } from './files-network.ts'

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')

describe('FileSharing between real webkad nodes', () => {
  let peers: FilesPeer[] = []
  afterEach(async () => { await stopFilesNetwork(peers); peers = [] })

  it('shares a file, finds its provider and fetches it verified, byte for byte; the fetcher then provides it', async () => {
    peers = await startFilesNetwork(4)
    const [a, b, c] = peers
    if (a == null || b == null || c == null) throw new Error('network')
    const content = randomBytes(3 * 1024 * 1024 + 12_345, 7)
    const shared = await a.files.share(new File([content], 'photo.bin'), { signal: AbortSignal.timeout(20_000) })
    expect(shared.entry.size).toBe(content.byteLength)
    expect(shared.entry.blocks).toBeGreaterThan(12)
    expect(shared.provide?.accepted.length, 'peers that stored the provider record').toBeGreaterThan(0)

    const found = await b.files.findProviders(shared.entry.cid, { signal: AbortSignal.timeout(10_000) })
    expect(found.providers.map(p => p.peerId.toString())).toEqual([a.node.peerId.toString()])

    const fetched = await b.files.fetch(shared.entry.cid, { signal: AbortSignal.timeout(30_000), name: 'photo.bin' })
    expect(fetched).toMatchObject({ complete: true, size: content.byteLength, blocks: shared.entry.blocks, name: 'photo.bin' })
    expect(sha256(await collect(b.files.read(fetched.cid)))).toBe(sha256(content))
    const view = b.files.transfers.getSnapshot().find(t => t.cid === fetched.cid)
    expect(view?.progress?.providers.map(p => [p.peer, p.bytes])).toEqual([[a.node.peerId.toString(), content.byteLength]])

    // B provides it now: C finds both.
    await expect.poll(async () => (await c.files.findProviders(shared.entry.cid, { signal: AbortSignal.timeout(10_000) })).providers.length, { timeout: 10_000 }).toBe(2)
  })

  it('fetches from two providers at once, both contributing', async () => {
    peers = await startFilesNetwork(4)
    const [a, b, c] = peers
    if (a == null || b == null || c == null) throw new Error('network')
    const content = randomBytes(6 * 1024 * 1024, 11)
    const file = new File([content], 'video.bin')
    const [shareA, shareB] = await Promise.all([a.files.share(file, { signal: AbortSignal.timeout(20_000) }), b.files.share(file, { signal: AbortSignal.timeout(20_000) })])
    expect(shareA.entry.cid).toBe(shareB.entry.cid)
    const fetched = await c.files.fetch(shareA.entry.cid, { signal: AbortSignal.timeout(30_000) })
    expect(sha256(await collect(c.files.read(fetched.cid)))).toBe(sha256(content))
    const shares = c.files.transfers.getSnapshot()[0]?.progress?.providers ?? []
    expect(shares).toHaveLength(2)
    for (const share of shares) expect(share.bytes, `bytes from ${share.peer}`).toBeGreaterThan(0)
    expect(shares.reduce((sum, share) => sum + share.bytes, 0)).toBe(content.byteLength)
  })

  it('resumes from blocks already stored: only the missing ones are fetched', async () => {
    peers = await startFilesNetwork(3)
    const [a, b] = peers
    if (a == null || b == null) throw new Error('network')
    const content = randomBytes(2 * 1024 * 1024, 3)
    const shared = await a.files.share(new File([content], 'doc.bin'), { signal: AbortSignal.timeout(20_000) })
    // B already holds half of the leaves (as after a reload mid-transfer).
    let copied = 0
    for await (const { cid, bytes } of a.blockstore.getAll()) {
      if (cid.code === 0x55 && copied * 2 < 8) { await b.blockstore.put(CID.decode(cid.bytes), await collect(bytes)); copied++ }
    }
    const fetched = await b.files.fetch(shared.entry.cid, { signal: AbortSignal.timeout(30_000) })
    const progress = b.files.transfers.getSnapshot()[0]?.progress
    expect(copied).toBe(4)
    expect(progress?.resumedBytes).toBe(copied * 262_144)
    expect(progress?.providers[0]?.bytes).toBe(content.byteLength - (progress?.resumedBytes ?? 0))
    expect(sha256(await collect(b.files.read(fetched.cid)))).toBe(sha256(content))
  })

  it('a malformed CID is a clear InvalidCidError; an unknown one ends with NoProvidersError after the lookup', async () => {
    peers = await startFilesNetwork(3)
    const [, b] = peers
    if (b == null) throw new Error('network')
    await expect(b.files.fetch('not-a-cid', { signal: AbortSignal.timeout(5000) })).rejects.toMatchObject({ name: 'InvalidCidError' })
    await expect(b.files.fetch('#cid=bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy', { signal: AbortSignal.timeout(5000) })).rejects.toMatchObject({ name: 'InvalidCidError' })
    const unknown = CID.parse('bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')
    await expect(b.files.fetch(unknown.toString(), { signal: AbortSignal.timeout(10_000) })).rejects.toMatchObject({ name: 'NoProvidersError' })
  })

  it('a full storage quota stops the fetch with StorageQuotaError; the blocks stored so far are kept and a later fetch resumes from them', async () => {
    let room = 5
    peers = await startFilesNetwork(2, {
      wrapBlockstore: (index, store) => index === 0 ? store : {
        has: store.has.bind(store),
        get: store.get.bind(store),
        delete: store.delete.bind(store),
        put: async (cid, bytes, options) => {
          if (room-- <= 0) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError')
          return await store.put(cid, bytes, options)
        }
      }
    })
    const [a, b] = peers
    if (a == null || b == null) throw new Error('network')
    const content = randomBytes(3 * 1024 * 1024, 21)
    const shared = await a.files.share(new File([content], 'big.bin'), { signal: AbortSignal.timeout(20_000) })
    await expect(b.files.fetch(shared.entry.cid, { signal: AbortSignal.timeout(20_000) })).rejects.toMatchObject({ name: 'StorageQuotaError' })
    expect(b.files.files.getSnapshot().find(entry => entry.cid === shared.entry.cid)).toMatchObject({ complete: false })
    let kept = 0
    for await (const _pair of b.blockstore.getAll()) kept++
    expect(kept).toBe(5)
    room = Number.POSITIVE_INFINITY
    const fetched = await b.files.fetch(shared.entry.cid, { signal: AbortSignal.timeout(20_000) })
    expect(b.files.transfers.getSnapshot()[0]?.progress?.resumedBytes).toBeGreaterThan(0)
    expect(sha256(await collect(b.files.read(fetched.cid)))).toBe(sha256(content))
  })

  it('Cancel stops a transfer with OperationAbortedError and keeps its blocks; Remove stops providing and deletes the blocks', async () => {
    peers = await startFilesNetwork(3, { sharing: (index) => index === 0 ? { uploadBytesPerSecond: 1024 * 1024 } : {} })
    const [a, b] = peers
    if (a == null || b == null) throw new Error('network')
    const shared = await a.files.share(new File([randomBytes(3 * 1024 * 1024, 8)], 'slow.bin'), { signal: AbortSignal.timeout(20_000) })
    const fetching = b.files.fetch(shared.entry.cid, { signal: AbortSignal.timeout(20_000) })
    await expect.poll(() => b.files.transfers.getSnapshot()[0]?.progress?.bytes ?? 0, { timeout: 10_000, interval: 20 }).toBeGreaterThan(0)
    b.files.cancel(shared.entry.cid)
    await expect(fetching).rejects.toMatchObject({ name: 'OperationAbortedError' })
    let kept = 0
    for await (const _pair of b.blockstore.getAll()) kept++
    expect(kept).toBeGreaterThan(0)
    await a.files.remove(shared.entry.cid)
    expect(a.files.files.getSnapshot()).toEqual([])
    let left = 0
    for await (const _pair of a.blockstore.getAll()) left++
    expect(left).toBe(0)
    await expect(a.files.remove(shared.entry.cid)).rejects.toMatchObject({ name: 'FileNotFoundError' })
  })
})
