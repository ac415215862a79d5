import { generateKeyPair } from '@libp2p/crypto/keys'
import { Record as Libp2pRecord } from '@libp2p/kad-dht'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { fromString } from 'uint8arrays'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { DHT_PROTOCOL } from '../../src/p2p/constants.ts'
import { crawlNetwork } from '../../src/p2p/crawl/crawler.ts'
import { findKeyHolders } from '../../src/p2p/crawl/key-holders.ts'
import { kadInternals } from '../../src/p2p/dht/kad-internals.ts'
import { createSignedRecord } from '../../src/p2p/dht/records.ts'
import { startMemoryNode } from '../helpers/nodes.ts'
import { Message, MessageType } from '../helpers/pb/dht.ts'
import { within } from '../helpers/wait.ts'
import { crawlHost } from '../p2p/crawl/crawl-host.ts'
import { operationsFor, startDhtNetwork, stopDhtNetwork } from '../p2p/dht/dht-network.ts'
import type { KeyHoldersHost } from '../../src/p2p/crawl/key-holders.ts'
import type { TestDhtNode } from '../p2p/dht/dht-network.ts'
import type { WebkadNode } from '../../src/p2p/node.ts'

/**
 * Hostile holders against the map's key view: a webkad node whose /webkad/kad/1.0.0 handler is
 * replaced answers GET_VALUE with bytes of its choosing (encoded with the codec generated from
 * kad-dht's own dht.proto, test/helpers/pb/). The honest nodes' answers must be unaffected.
 */

const KEY = '/webkad/hostile-holders'
let honest: TestDhtNode[] = []
let liar: WebkadNode | undefined

afterEach(async () => {
  await liar?.stop()
  await stopDhtNetwork(honest)
  liar = undefined
  honest = []
})

/** Three honest nodes (one put the record), a liar all of them know, and the asker's crawl of all four. */
/** 'never': the stream stays silent; 'close': the stream is cut before the answer (as a duplicate connection's close does). */
async function startWithLiar (answer: (request: Message) => Uint8Array | 'never' | 'close'): Promise<{ host: KeyHoldersHost, crawl: Awaited<ReturnType<typeof crawlNetwork>> }> {
  honest = await startDhtNetwork(3, 20)
  liar = await startMemoryNode({ name: 'holders-liar' })
  await liar.handle(DHT_PROTOCOL, async (stream) => {
    const lp = lpStream(stream, { maxDataLength: 4 * 1024 * 1024 })
    try {
      for (;;) {
        const request = Message.decode(await lp.read())
        if (request.type !== MessageType.GET_VALUE) {
          await lp.write(Message.encode({ type: request.type, closer: [], providers: [] }))
          continue
        }
        const bytes = answer(request)
        if (bytes === 'never') continue
        if (bytes === 'close') { stream.abort(new Error('connection closed as a duplicate')); return }
        await lp.write(bytes)
      }
    } catch {
      stream.abort(new Error('done'))
    }
  }, { force: true, maxInboundStreams: 64 })
  for (const peer of honest) await peer.node.dial(liar.getMultiaddrs()[0]!)
  for (const peer of honest) {
    const table = kadInternals(peer.node.services.dht).routingTable
    await vi.waitFor(() => { expect(table.size, 'the liar in every honest routing table').toBe(3) }, within(10_000))
  }
  await operationsFor(honest[1]!).put(KEY, { type: 'text', text: 'the real one' }, { signal: AbortSignal.timeout(20_000) })
  const asker = honest[0]!
  const host = { ...crawlHost(asker.node), localRecord: async (key: Uint8Array) => await asker.storedValue(key) }
  return { host, crawl: await crawlNetwork(host) }
}

function recordAnswer (record: Uint8Array): Uint8Array {
  return Message.encode({ type: MessageType.GET_VALUE, record: record as Uint8Array<ArrayBuffer>, closer: [], providers: [] })
}

async function expectLiarAndHonest (host: KeyHoldersHost, crawl: Awaited<ReturnType<typeof crawlNetwork>>, liarState: string, error?: RegExp): Promise<void> {
  const result = await findKeyHolders(host, crawl, KEY, { requestTimeoutMs: 1000 })
  const liarEntry = result.holders.find(holder => holder.peerId === liar!.peerId.toString())
  expect(liarEntry?.state).toBe(liarState)
  if (error != null) expect(liarEntry?.error).toMatch(error)
  // Every honest node stores the record (3 nodes, k = 20): all hold the author's sequence 1.
  for (const { node } of honest) expect(result.holders.find(holder => holder.peerId === node.peerId.toString())).toMatchObject({ state: 'holds', sequence: '1' })
  expect(result.bestSequence).toBe('1')
}

describe('a holder answering GET_VALUE with bytes that are not a usable answer', () => {
  it('garbage instead of a message: refused (CrawlProtocolError), the others unaffected', async () => {
    const { host, crawl } = await startWithLiar(() => crypto.getRandomValues(new Uint8Array(64)).map(byte => byte | 0x80))
    await expectLiarAndHonest(host, crawl, 'invalid', /^CrawlProtocolError/)
  }, 60_000)

  it('a FIND_NODE answer to GET_VALUE: refused', async () => {
    const { host, crawl } = await startWithLiar(() => Message.encode({ type: MessageType.FIND_NODE, closer: [], providers: [] }))
    await expectLiarAndHonest(host, crawl, 'invalid', /message type/)
  }, 60_000)

  it('an answer frame over 256 KiB: refused', async () => {
    const { host, crawl } = await startWithLiar(() => recordAnswer(new Libp2pRecord(fromString(KEY), new Uint8Array(300 * 1024), new Date()).serialize()))
    await expectLiarAndHonest(host, crawl, 'invalid', /larger than/)
  }, 60_000)

  it('a record written for another key, or a forged higher sequence: refused, and never "the best record"', async () => {
    const forger = await generateKeyPair('Ed25519')
    const forgerId = peerIdFromPrivateKey(forger)
    const { host, crawl } = await startWithLiar(() => 'never')
    // The liar answers with the real author's record for another key, then with a forged one for this key.
    const realAuthor = honest[1]!
    const otherKey = await createSignedRecord(realAuthor.privateKey, realAuthor.node.peerId, { key: '/webkad/another-key', payload: { type: 'text', text: 'x' }, sequence: 9n })
    const forged = await createSignedRecord(forger, forgerId, { key: KEY, payload: { type: 'text', text: 'forged' }, sequence: 9n })
    forged[forged.length - 1]! ^= 0xff
    for (const value of [otherKey, forged]) {
      await liar!.unhandle(DHT_PROTOCOL)
      await liar!.handle(DHT_PROTOCOL, async (stream) => {
        const lp = lpStream(stream)
        try {
          for (;;) {
            const request = Message.decode(await lp.read())
            await lp.write(request.type === MessageType.GET_VALUE ? recordAnswer(new Libp2pRecord(fromString(KEY), value, new Date()).serialize()) : Message.encode({ type: request.type, closer: [], providers: [] }))
          }
        } catch { stream.abort(new Error('done')) }
      }, { force: true, maxInboundStreams: 64 })
      await expectLiarAndHonest(host, crawl, 'invalid')
    }
  }, 60_000)

  it('no answer at all: unreachable after the request timeout, the others unaffected', async () => {
    const { host, crawl } = await startWithLiar(() => 'never')
    await expectLiarAndHonest(host, crawl, 'unreachable', /TimeoutError|abort/i)
  }, 60_000)
})

describe('a holder whose stream breaks before it answers (a duplicate WebRTC connection closed under it)', () => {
  it('is asked again once on a new stream and counts as holding', async () => {
    let requests = 0
    // The real record, known once the author has put it.
    const real: { record?: Uint8Array } = {}
    const { host, crawl } = await startWithLiar(() => {
      requests++
      if (requests === 1 || real.record == null) return 'close'
      return recordAnswer(real.record)
    })
    const value = await honest[1]!.storedValue(fromString(KEY))
    if (value == null) throw new Error('the author did not store its record')
    real.record = new Libp2pRecord(fromString(KEY), value, new Date()).serialize()
    requests = 0
    await expectLiarAndHonest(host, crawl, 'holds')
    expect(requests).toBe(2)
  }, 60_000)

  it('is unreachable when every stream breaks, after two: no loop', async () => {
    let requests = 0
    const { host, crawl } = await startWithLiar(() => { requests++; return 'close' })
    requests = 0
    await expectLiarAndHonest(host, crawl, 'unreachable', /duplicate|closed|reset|abort|EOF/i)
    expect(requests).toBe(2)
  }, 60_000)
})
