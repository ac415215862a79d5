import { peerIdFromMultihash } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { DHT_PROTOCOL } from '../../src/p2p/constants.ts'
import { crawlNetwork } from '../../src/p2p/crawl/crawler.ts'
import { kadInternals } from '../../src/p2p/dht/kad-internals.ts'
import { startMemoryNode } from '../helpers/nodes.ts'
import { Message, MessageType } from '../helpers/pb/dht.ts'
import { within } from '../helpers/wait.ts'
import { crawlHost } from '../p2p/crawl/crawl-host.ts'
import { startDhtNetwork, stopDhtNetwork } from '../p2p/dht/dht-network.ts'
import type { TestDhtNode } from '../p2p/dht/dht-network.ts'
import type { CrawlResult } from '../../src/p2p/crawl/crawl-types.ts'
import type { WebkadNode } from '../../src/p2p/node.ts'
import type { PeerInfo } from '../helpers/pb/dht.ts'

/**
 * Hostile peers against the crawler, over real in-process webkad nodes (createWebkadNode on the
 * memory transport). The hostile node is a webkad node whose /webkad/kad/1.0.0 handler is replaced:
 * it answers PING as kad-dht does (so honest nodes keep it in their routing tables) and misbehaves
 * on FIND_NODE. Its answers are encoded with the codec generated from kad-dht's own dht.proto
 * (test/helpers/pb/), not the crawler's.
 */

/**
 * 'never': the stream stays silent; 'close': the stream is cut before the answer (as a duplicate
 * connection's close does); 'close-connection': the whole connection is dropped.
 */
type FindNodeAnswer = (key: Uint8Array) => PeerInfo[] | 'never' | 'close' | 'close-connection'

let honest: TestDhtNode[] = []
let liar: WebkadNode | undefined
let findNodeRequests = 0

afterEach(async () => {
  await liar?.stop()
  await stopDhtNetwork(honest)
  liar = undefined
  honest = []
  findNodeRequests = 0
})

/** Three honest nodes and a liar all of them hold in their routing tables. */
async function startWithLiar (answer: FindNodeAnswer): Promise<void> {
  honest = await startDhtNetwork(3, 20)
  liar = await startMemoryNode({ name: 'crawl-liar' })
  await liar.handle(DHT_PROTOCOL, async (stream, connection) => {
    const lp = lpStream(stream)
    try {
      for (;;) {
        const request = Message.decode(await lp.read())
        if (request.type !== MessageType.FIND_NODE) {
          await lp.write(Message.encode({ type: request.type, closer: [], providers: [] }))
          continue
        }
        findNodeRequests++
        const closer = answer(request.key ?? new Uint8Array())
        // Never answers: the stream stays open and silent until the asker gives up.
        if (closer === 'never') continue
        if (closer === 'close') { stream.abort(new Error('connection closed as a duplicate')); return }
        if (closer === 'close-connection') { connection.abort(new Error('the peer connection failed')); return }
        await lp.write(Message.encode({ type: MessageType.FIND_NODE, closer, providers: [] }))
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
}

/** A made-up peer: a random SHA-256 multihash is a valid (RSA-style) peer ID nobody holds. */
async function madeUpPeer (index: number, withAddress: boolean): Promise<PeerInfo> {
  const digest = await sha256.digest(crypto.getRandomValues(new Uint8Array(32)))
  const peerId = peerIdFromMultihash(digest)
  return { id: peerId.toMultihash().bytes, multiaddrs: withAddress ? [multiaddr(`/memory/crawl-nowhere-${index}`).bytes] : [] }
}

function honestNodesCrawledExactly (result: CrawlResult): void {
  const self = honest[0]!.node.peerId.toString()
  for (const { node } of honest.slice(1)) {
    const crawled = result.nodes.find(entry => entry.peerId === node.peerId.toString())
    expect(crawled?.status).toBe('crawled')
    const table = kadInternals(node.services.dht).routingTablePeers().map(contact => contact.peerId.toString()).filter(peer => peer !== self).sort()
    expect([...(crawled?.routingTable ?? [])].sort()).toEqual(table)
  }
}

describe('a FIND_NODE flood (thousands of made-up peers in every answer)', () => {
  it('keeps k peers per answer and a bounded number of requests; the honest nodes are crawled exactly', async () => {
    const flood = await Promise.all(Array.from({ length: 3000 }, async (_, index) => await madeUpPeer(index, index % 10 === 0)))
    await startWithLiar(() => flood)
    const result = await crawlNetwork(crawlHost(honest[0]!.node), { requestTimeoutMs: 2000 })
    const liarEntry = result.nodes.find(entry => entry.peerId === liar!.peerId.toString())
    expect(liarEntry?.status).toBe('crawled')
    // At most k (20) of the 3000 per answer, and at most 16 requests to the liar.
    expect(liarEntry?.requests).toBeLessThanOrEqual(16)
    expect(liarEntry?.routingTable.length).toBeLessThanOrEqual(20 * 16)
    expect(result.nodes.length).toBeLessThanOrEqual(4 + 20 * 16)
    expect(findNodeRequests).toBe(liarEntry?.requests)
    // The made-up peers were heard of but could not be reached.
    const madeUp = result.nodes.filter(entry => !honest.some(({ node }) => node.peerId.toString() === entry.peerId) && entry.peerId !== liar!.peerId.toString())
    expect(madeUp.length).toBeGreaterThan(0)
    for (const entry of madeUp) expect(entry.status).toBe('unreachable')
    honestNodesCrawledExactly(result)
  }, 60_000)

  it('caps the nodes a crawl tracks (maxNodes): the flood cannot grow it past the cap', async () => {
    const flood = await Promise.all(Array.from({ length: 3000 }, async (_, index) => await madeUpPeer(index, false)))
    await startWithLiar(() => flood)
    const result = await crawlNetwork(crawlHost(honest[0]!.node), { maxNodes: 10 })
    expect(result.nodes.length).toBeLessThanOrEqual(10)
    honestNodesCrawledExactly(result)
  }, 60_000)

  it('refuses an answer frame over 256 KiB with CrawlProtocolError, noted on the liar', async () => {
    const flood = await Promise.all(Array.from({ length: 6000 }, async (_, index) => await madeUpPeer(index, true)))
    await startWithLiar(() => flood)
    const result = await crawlNetwork(crawlHost(honest[0]!.node))
    const liarEntry = result.nodes.find(entry => entry.peerId === liar!.peerId.toString())
    expect(liarEntry?.status).toBe('unreachable')
    expect(liarEntry?.error).toMatch(/^CrawlProtocolError/)
    expect(result.nodes).toHaveLength(4)
    honestNodesCrawledExactly(result)
  }, 60_000)
})

describe('a peer answering FIND_NODE with itself again and again', () => {
  it('does not loop the crawl: one request, an empty table', async () => {
    await startWithLiar(() => Array.from({ length: 20 }, () => ({ id: liar!.peerId.toMultihash().bytes, multiaddrs: [liar!.getMultiaddrs()[0]!.bytes] })))
    const result = await crawlNetwork(crawlHost(honest[0]!.node))
    const liarEntry = result.nodes.find(entry => entry.peerId === liar!.peerId.toString())
    expect(liarEntry?.status).toBe('crawled')
    expect(liarEntry?.requests).toBe(1)
    expect(findNodeRequests).toBe(1)
    expect(liarEntry?.routingTable).toEqual([])
    expect(result.nodes).toHaveLength(4)
    honestNodesCrawledExactly(result)
  }, 60_000)

  it('does not loop on echoes of the crawler itself either', async () => {
    await startWithLiar(() => Array.from({ length: 20 }, () => ({ id: honest[0]!.node.peerId.toMultihash().bytes, multiaddrs: [honest[0]!.node.getMultiaddrs()[0]!.bytes] })))
    const result = await crawlNetwork(crawlHost(honest[0]!.node))
    expect(findNodeRequests).toBe(1)
    expect(result.nodes).toHaveLength(4)
    honestNodesCrawledExactly(result)
  }, 60_000)
})

describe('a peer that never answers FIND_NODE', () => {
  it('is marked unreachable after the per-request timeout; the crawl ends and the others are crawled', async () => {
    await startWithLiar(() => 'never')
    const started = Date.now()
    const result = await crawlNetwork(crawlHost(honest[0]!.node), { requestTimeoutMs: 500 })
    // The timeout is 500 ms; the loose bound only proves the crawl did not wait for the liar.
    expect(Date.now() - started).toBeLessThan(5000)
    const liarEntry = result.nodes.find(entry => entry.peerId === liar!.peerId.toString())
    expect(liarEntry?.status).toBe('unreachable')
    expect(liarEntry?.error).toMatch(/TimeoutError|abort/i)
    expect(result.cancelled).toBe(false)
    honestNodesCrawledExactly(result)
  }, 60_000)
})

describe('a peer whose stream breaks before it answers (a duplicate WebRTC connection being closed)', () => {
  it('is asked again on a new stream once, and crawled', async () => {
    let streamsCut = 0
    await startWithLiar(() => {
      if (streamsCut++ === 0) return 'close'
      return honest.map(({ node }) => ({ id: node.peerId.toMultihash().bytes, multiaddrs: [node.getMultiaddrs()[0]!.bytes] }))
    })
    const result = await crawlNetwork(crawlHost(honest[0]!.node))
    const liarEntry = result.nodes.find(entry => entry.peerId === liar!.peerId.toString())
    expect(liarEntry?.status).toBe('crawled')
    expect(liarEntry?.truncated).toBeUndefined()
    expect(liarEntry?.requests).toBe(2)
    expect(findNodeRequests).toBe(2)
    expect([...(liarEntry?.routingTable ?? [])].sort()).toEqual(honest.slice(1).map(({ node }) => node.peerId.toString()).sort())
    honestNodesCrawledExactly(result)
  }, 60_000)

  it('is asked again on a new connection when the whole connection dropped', async () => {
    let dropped = 0
    await startWithLiar(() => {
      if (dropped++ === 0) return 'close-connection'
      return honest.map(({ node }) => ({ id: node.peerId.toMultihash().bytes, multiaddrs: [node.getMultiaddrs()[0]!.bytes] }))
    })
    const result = await crawlNetwork(crawlHost(honest[0]!.node))
    const liarEntry = result.nodes.find(entry => entry.peerId === liar!.peerId.toString())
    expect(liarEntry?.status).toBe('crawled')
    expect(liarEntry?.requests).toBe(2)
    expect(findNodeRequests).toBe(2)
    honestNodesCrawledExactly(result)
  }, 60_000)

  it('is unreachable when every stream breaks, after two: no loop', async () => {
    await startWithLiar(() => 'close')
    const result = await crawlNetwork(crawlHost(honest[0]!.node))
    const liarEntry = result.nodes.find(entry => entry.peerId === liar!.peerId.toString())
    expect(liarEntry?.status).toBe('unreachable')
    expect(findNodeRequests).toBe(2)
    expect(liarEntry?.requests).toBe(2)
    honestNodesCrawledExactly(result)
  }, 60_000)
})
