import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fromString } from 'uint8arrays'
import { crawlNetwork } from '../../../src/p2p/crawl/crawler.ts'
import { findKeyHolders } from '../../../src/p2p/crawl/key-holders.ts'
import { compareDistances, kadIdOfKey, kadIdOfPeer, xorDistance } from '../../../src/p2p/dht/kad-math.ts'
import { createSignedRecord } from '../../../src/p2p/dht/records.ts'
import { InvalidRecordKeyError } from '../../../src/p2p/errors.ts'
import { operationsFor, startDhtNetwork, stopDhtNetwork } from '../dht/dht-network.ts'
import { crawlHost } from './crawl-host.ts'
import type { KeyHoldersHost } from '../../../src/p2p/crawl/key-holders.ts'
import type { CrawlResult } from '../../../src/p2p/crawl/crawl-types.ts'
import type { TestDhtNode } from '../dht/dht-network.ts'

const K = 4
let nodes: TestDhtNode[]
let crawl: CrawlResult
let host: KeyHoldersHost

function byDistance (key: string): TestDhtNode[] {
  const target = kadIdOfKey(fromString(key))
  return [...nodes].sort((a, b) => compareDistances(xorDistance(kadIdOfPeer(a.node.peerId), target), xorDistance(kadIdOfPeer(b.node.peerId), target)))
}

describe('findKeyHolders (GET_VALUE to a key\'s k closest nodes of a crawl, real webkad nodes)', () => {
  beforeAll(async () => {
    nodes = await startDhtNetwork(8, K)
    const asker = nodes[0]!
    host = { ...crawlHost(asker.node), localRecord: async (key) => await asker.storedValue(key) }
    crawl = await crawlNetwork(host)
  }, 60_000)
  afterAll(async () => { await stopDhtNetwork(nodes) })

  it('lists the k closest nodes nearest first; the holders are those the Put stored on, and the author', async () => {
    const author = nodes[3]!
    const key = '/webkad/holders-match-put'
    const put = await operationsFor(author).put(key, { type: 'text', text: 'held' }, { signal: AbortSignal.timeout(20_000) })
    const events: string[] = []
    const result = await findKeyHolders(host, crawl, 'holders-match-put', { onProgress: event => events.push(event.peerId) })
    expect(result.key).toBe(key)
    expect(result.k).toBe(K)
    expect(result.holders.map(holder => holder.peerId)).toEqual(byDistance(key).slice(0, K).map(({ node }) => node.peerId.toString()))
    expect(events.sort()).toEqual(result.holders.map(holder => holder.peerId).sort())
    // Every node that says it holds the record really stores it; the Put's acceptors among the k closest all hold it.
    const storing = new Set<string>()
    for (const { node, storedValue } of nodes) if (await storedValue(fromString(key)) != null) storing.add(node.peerId.toString())
    for (const holder of result.holders) {
      expect(holder.state, holder.peerId).toBe(storing.has(holder.peerId) ? 'holds' : 'none')
      if (holder.state === 'holds') expect(holder).toMatchObject({ sequence: '1', author: author.node.peerId.toString() })
    }
    const closest = new Set(result.holders.map(holder => holder.peerId))
    for (const peer of [...put.accepted, author.node.peerId.toString()].filter(peer => closest.has(peer))) {
      expect(result.holders.find(holder => holder.peerId === peer)?.state).toBe('holds')
    }
    expect(result.bestSequence).toBe('1')
  })

  it('marks a holder with an older sequence stale and one with a forged record invalid', async () => {
    const key = '/webkad/holders-stale'
    const keyBytes = fromString(key)
    const author = nodes[5]!
    await operationsFor(author).put(key, { type: 'text', text: 'v1' }, { signal: AbortSignal.timeout(20_000) })
    await operationsFor(author).put(key, { type: 'text', text: 'v2' }, { signal: AbortSignal.timeout(20_000) })
    const [first, second] = byDistance(key).filter(node => node !== nodes[0] && node !== author)
    await first!.injectValue(keyBytes, await createSignedRecord(author.privateKey, author.node.peerId, { key, payload: { type: 'text', text: 'v1' }, sequence: 1n }))
    const forged = await createSignedRecord(author.privateKey, author.node.peerId, { key, payload: { type: 'text', text: 'v3' }, sequence: 3n })
    forged[forged.length - 1]! ^= 0xff // the signature's last byte
    await second!.injectValue(keyBytes, forged)
    const result = await findKeyHolders(host, crawl, key)
    const state = (peer: TestDhtNode): unknown => result.holders.find(holder => holder.peerId === peer.node.peerId.toString())
    expect(state(first!)).toMatchObject({ state: 'stale', sequence: '1' })
    expect(state(second!)).toMatchObject({ state: 'invalid' })
    expect(result.bestSequence).toBe('2')
    expect(result.holders.filter(holder => holder.state === 'holds').every(holder => holder.sequence === '2')).toBe(true)
  })

  it('marks nodes of the crawl that are gone unreachable, and refuses a bad key with InvalidRecordKeyError', async () => {
    const nobody = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const gone = { ...crawl, nodes: [...crawl.nodes, { ...crawl.nodes[1]!, peerId: nobody, addresses: ['/memory/nobody-here'] }], kBucketSize: 20 }
    const result = await findKeyHolders(host, gone, 'anything', { dialTimeoutMs: 2000 })
    expect(result.holders.find(holder => holder.peerId === nobody)?.state).toBe('unreachable')
    expect(result.holders).toHaveLength(9)
    await expect(findKeyHolders(host, crawl, '')).rejects.toBeInstanceOf(InvalidRecordKeyError)
    await expect(findKeyHolders(host, crawl, 'bad\nkey')).rejects.toBeInstanceOf(InvalidRecordKeyError)
  })

  it('ends with the signal\'s reason when aborted', async () => {
    const controller = new AbortController()
    controller.abort(new Error('stop'))
    await expect(findKeyHolders(host, crawl, 'anything', { signal: controller.signal })).rejects.toThrow('stop')
  })
})
