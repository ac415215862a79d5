import { createHash } from 'node:crypto'
import { lpStream } from '@libp2p/utils'
import { Key } from 'interface-datastore'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 as sha256Hasher } from 'multiformats/hashes/sha2'
import { concat, toString } from 'uint8arrays'
import { afterEach, describe, expect, it } from 'vitest'
import { varint } from '../helpers/varint.ts'
import { streamEnd } from '../helpers/streams.ts'
import { BLOCKS_PROTOCOL } from '../../src/p2p/services/blocks/index.ts'
import { BlockRequest, BlockResponse } from '../../src/p2p/services/blocks/pb/blocks.ts'
import { blockMatchesCid } from '../../src/p2p/files/blocks.ts'
import { KAD_PROVIDER_PREFIX } from '../../src/p2p/files/provider-guard.ts'
import { collect, randomBytes, startFilesNetwork, stopFilesNetwork } from '../p2p/files/files-network.ts'
import type { FilesPeer } from '../p2p/files/files-network.ts'
import type { Stream } from '@libp2p/interface'

/**
 * Hostile providers and fetchers against the files feature of real webkad nodes
 * (createWebkadNode on the memory transport): Mallory lies about blocks, sends oversized or
 * malformed frames on /webkad/blocks/1.0.0, vanishes mid-transfer, or floods ADD_PROVIDER.
 */

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')
const MiB = 1024 * 1024

let peers: FilesPeer[] = []
afterEach(async () => { await stopFilesNetwork(peers); peers = [] })

/** Every block the fetcher stored matches its CID (nothing bad was ever written). */
async function expectOnlyValidBlocks (peer: FilesPeer): Promise<void> {
  let count = 0
  for await (const { cid, bytes } of peer.blockstore.getAll()) {
    expect(await blockMatchesCid(CID.decode(cid.bytes), await collect(bytes)), `stored block ${cid.toString()}`).toBe(true)
    count++
  }
  expect(count).toBeGreaterThan(0)
}

/** Mallory answers every block request on its own stream handler with `reply(cid)` bytes (raw, unframed). */
async function serveHostile (mallory: FilesPeer, reply: (cid: CID) => Uint8Array): Promise<void> {
  await mallory.node.unhandle(BLOCKS_PROTOCOL)
  await mallory.node.handle(BLOCKS_PROTOCOL, (stream: Stream) => {
    void (async () => {
      const lp = lpStream(stream)
      try {
        // Raw bytes, written past the length-prefixed encoder; the stream stays open.
        for (;;) stream.send(reply(CID.decode(BlockRequest.decode(await lp.read()).cid)))
      } catch { /* the fetcher reset the stream */ }
    })()
  })
}

describe('hostile block providers', () => {
  it('a provider that sends a block not matching its CID is dropped for the transfer; the block comes from the other, the bad one is never stored', async () => {
    // The liar is certainly asked for blocks: the file has more blocks (32) than one provider is
    // asked for at once (16 in flight), and the honest one is slowed (its 16 take ~4 s), so blocks
    // are still queued once the liar's channel opens, however late under load.
    peers = await startFilesNetwork(4, { sharing: (index) => index === 0 ? { uploadBytesPerSecond: MiB } : {} })
    const [alice, mallory, carol] = peers
    if (alice == null || mallory == null || carol == null) throw new Error('network')
    const content = randomBytes(8 * MiB, 5)
    const file = new File([content], 'a.bin')
    const shared = await alice.files.share(file, { signal: AbortSignal.timeout(20_000) })
    await mallory.files.share(file, { signal: AbortSignal.timeout(20_000) })
    // Mallory flips a byte of every block it serves.
    mallory.node.services.blocks.setBlockSource({
      get: async (cid) => {
        const bytes = await collect(mallory.blockstore.get(cid))
        bytes[0] = (bytes[0] ?? 0) ^ 0xff
        return bytes
      }
    })
    const fetched = await carol.files.fetch(shared.entry.cid, { signal: AbortSignal.timeout(30_000) })
    expect(sha256(await collect(carol.files.read(fetched.cid)))).toBe(sha256(content))
    const shares = carol.files.transfers.getSnapshot()[0]?.progress?.providers ?? []
    const liar = shares.find(share => share.peer === mallory.node.peerId.toString())
    expect(liar).toMatchObject({ state: 'dropped', bytes: 0, reason: 'sent a block that does not match its CID' })
    expect(shares.find(share => share.peer === alice.node.peerId.toString())?.bytes).toBe(content.byteLength)
    await expectOnlyValidBlocks(carol)
  })

  it.each([
    ['an oversized frame (a 2 MiB length prefix)', (): Uint8Array => concat([varint(2 * MiB + 1), new Uint8Array(64)]), 'frame over'],
    ['a malformed frame (not protobuf)', (): Uint8Array => concat([varint(8), new Uint8Array(8).fill(0xff)]), 'malformed frame'],
    ['a reply for another block', (): Uint8Array => { const other = CID.create(1, raw.code, sha256Hasher.digest(new Uint8Array([1])) as never); return BlockResponse.encode({ cid: other.bytes, present: true, data: new Uint8Array(4) }) }, 'another block']
  ])('%s resets only that stream: the provider is dropped, the connection stays, the file arrives from the other', async (_what, frame, reason) => {
    peers = await startFilesNetwork(4, { sharing: (index) => index === 0 ? { uploadBytesPerSecond: 4 * MiB } : {} })
    const [alice, mallory, carol] = peers
    if (alice == null || mallory == null || carol == null) throw new Error('network')
    const content = randomBytes(2 * MiB, 9)
    const file = new File([content], 'b.bin')
    const shared = await alice.files.share(file, { signal: AbortSignal.timeout(20_000) })
    await mallory.files.share(file, { signal: AbortSignal.timeout(20_000) })
    await serveHostile(mallory, () => {
      const bytes = frame()
      // lp framing of a reply (the third case) is added here; the first two are raw wire bytes.
      return reason === 'another block' ? concat([varint(bytes.byteLength), bytes]) : bytes
    })
    const fetched = await carol.files.fetch(shared.entry.cid, { signal: AbortSignal.timeout(30_000) })
    expect(sha256(await collect(carol.files.read(fetched.cid)))).toBe(sha256(content))
    const liar = (carol.files.transfers.getSnapshot()[0]?.progress?.providers ?? []).find(share => share.peer === mallory.node.peerId.toString())
    expect(liar?.reason).toContain(reason)
    expect(liar?.state).toBe('dropped')
    // Only the block stream was reset: the connection to Mallory is still open.
    expect(carol.node.getConnections(mallory.node.peerId).filter(connection => connection.status === 'open')).not.toHaveLength(0)
    await expectOnlyValidBlocks(carol)
  })

  it('a provider that vanishes mid-transfer: the fetcher carries on with the other', async () => {
    peers = await startFilesNetwork(4, { sharing: (index) => index < 2 ? { uploadBytesPerSecond: 2 * MiB } : {} })
    const [alice, bob, carol] = peers
    if (alice == null || bob == null || carol == null) throw new Error('network')
    const content = randomBytes(4 * MiB, 13)
    const file = new File([content], 'c.bin')
    const shared = await alice.files.share(file, { signal: AbortSignal.timeout(20_000) })
    await bob.files.share(file, { signal: AbortSignal.timeout(20_000) })
    const fetching = carol.files.fetch(shared.entry.cid, { signal: AbortSignal.timeout(40_000) })
    await expect.poll(() => carol.files.transfers.getSnapshot()[0]?.progress?.providers.find(share => share.peer === alice.node.peerId.toString())?.bytes ?? 0, { timeout: 10_000, interval: 20 }).toBeGreaterThan(0)
    await alice.node.stop()
    const fetched = await fetching
    expect(sha256(await collect(carol.files.read(fetched.cid)))).toBe(sha256(content))
    const shares = carol.files.transfers.getSnapshot()[0]?.progress?.providers ?? []
    expect(shares.find(share => share.peer === alice.node.peerId.toString())?.state).toBe('gone')
    expect(shares.find(share => share.peer === bob.node.peerId.toString())?.bytes).toBeGreaterThan(content.byteLength / 4)
  })
})

describe('hostile block fetchers', () => {
  it('an oversized or malformed request resets only that stream; the next stream of the same peer is served', async () => {
    peers = await startFilesNetwork(2)
    const [alice, mallory] = peers
    if (alice == null || mallory == null) throw new Error('network')
    const shared = await alice.files.share(new File([randomBytes(300_000, 2)], 'd.bin'), { signal: AbortSignal.timeout(20_000) })
    for (const bad of [concat([varint(4096), new Uint8Array(4096)]), concat([varint(6), new Uint8Array(6).fill(0xff)])]) {
      const stream = await mallory.node.dialProtocol(alice.node.peerId, BLOCKS_PROTOCOL)
      stream.send(bad)
      expect(await streamEnd(stream)).not.toBe('open')
    }
    const stream = await mallory.node.dialProtocol(alice.node.peerId, BLOCKS_PROTOCOL)
    const lp = lpStream(stream)
    await lp.write(BlockRequest.encode({ cid: CID.parse(shared.entry.cid).bytes }))
    const reply = BlockResponse.decode(await lp.read())
    expect(reply.present).toBe(true)
    expect(await blockMatchesCid(CID.parse(shared.entry.cid), reply.data)).toBe(true)
    await stream.close()
  })
})

describe('ADD_PROVIDER flood', () => {
  it('a peer flooding ADD_PROVIDER is slowed and what it floods is bounded; an honest provider is still stored', async () => {
    peers = await startFilesNetwork(3)
    const [alice, mallory, bob] = peers
    if (alice == null || mallory == null || bob == null) throw new Error('network')
    const flood = 150
    const startedAt = Date.now()
    for (let batch = 0; batch < flood; batch += 25) {
      await Promise.all(Array.from({ length: 25 }, async (_, index) => {
        const cid = CID.create(1, raw.code, await sha256Hasher.digest(new TextEncoder().encode(`flood ${batch + index}`)))
        for await (const _event of mallory.node.services.dht.provide(cid, { signal: AbortSignal.timeout(10_000) })) { /* drain */ }
      }))
    }
    const seconds = (Date.now() - startedAt) / 1000
    let fromMallory = 0
    for await (const key of alice.datastore.queryKeys({ prefix: KAD_PROVIDER_PREFIX })) {
      if (key.toString().endsWith(`/${mallory.node.peerId.toString()}`)) fromMallory++
    }
    // Burst 50, then 10 a second.
    expect(fromMallory).toBeGreaterThan(0)
    expect(fromMallory).toBeLessThanOrEqual(50 + Math.ceil(seconds * 10) + 1)
    expect(fromMallory).toBeLessThan(flood)
    // Bob's honest record still goes in.
    const honest = await bob.files.share(new File([randomBytes(1000, 4)], 'e.bin'), { signal: AbortSignal.timeout(20_000) })
    expect(honest.provide?.accepted).toContain(alice.node.peerId.toString())
    // kad-dht keys provider records by the multihash in base32 (no multibase prefix).
    expect(await alice.datastore.has(new Key(`${KAD_PROVIDER_PREFIX}${toString(CID.parse(honest.entry.cid).multihash.bytes, 'base32')}/${bob.node.peerId.toString()}`))).toBe(true)
  })
})

describe('block stream limits', () => {
  it('a peer holding more than 4 block streams at once has further ones reset', async () => {
    peers = await startFilesNetwork(2)
    const [alice, mallory] = peers
    if (alice == null || mallory == null) throw new Error('network')
    await alice.files.share(new File([randomBytes(1000, 2)], 'f.bin'), { signal: AbortSignal.timeout(20_000) })
    // Each stream sends half a request frame, so Alice holds it open waiting for the rest.
    const streams: Stream[] = []
    for (let index = 0; index < 6; index++) {
      const stream = await mallory.node.dialProtocol(alice.node.peerId, BLOCKS_PROTOCOL, { maxOutboundStreams: 16 } as never).catch(() => undefined)
      if (stream == null) continue
      try { stream.send(varint(40)) } catch { /* already refused */ }
      streams.push(stream)
    }
    const ends = await Promise.all(streams.map(async stream => await streamEnd(stream, 1500)))
    // libp2p's per-connection inbound limit and the service's per-peer limit are both 4.
    expect(ends.filter(end => end === 'open')).toHaveLength(4)
    for (const stream of streams) stream.abort(new Error('test done'))
  })
})
