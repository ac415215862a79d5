import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { equals, fromString } from 'uint8arrays'
import { replicateHeldRecords } from '../../../src/p2p/dht/holder-replication.ts'
import { compareDistances, kadIdOfKey, kadIdOfPeer, xorDistance } from '../../../src/p2p/dht/kad-math.ts'
import { kadInternals, kadRecordKey } from '../../../src/p2p/dht/kad-internals.ts'
import { validateRecord } from '../../../src/p2p/dht/records.ts'
import { operationsFor, startDhtNetwork, stopDhtNetwork } from './dht-network.ts'
import type { TestDhtNode } from './dht-network.ts'

const NODES = 8
const K = 3
const INTERVAL = 60_000

function signal (): AbortSignal {
  return AbortSignal.timeout(20_000)
}

function byDistanceTo (key: string, nodes: TestDhtNode[]): TestDhtNode[] {
  const target = kadIdOfKey(fromString(key))
  return [...nodes].sort((a, b) => compareDistances(xorDistance(kadIdOfPeer(a.node.peerId), target), xorDistance(kadIdOfPeer(b.node.peerId), target)))
}

describe('holder replication on real kad-dht nodes', () => {
  let nodes: TestDhtNode[]
  beforeAll(async () => { nodes = await startDhtNetwork(NODES, K) }, 60_000)
  afterAll(async () => { await stopDhtNetwork(nodes) })

  it('skips a record received within the interval: no lookup, no message', async () => {
    const key = '/webkad/fresh'
    const author = nodes[0]!
    const put = await operationsFor(author).put(key, { type: 'text', text: 'just stored' }, { signal: signal() })
    const holder = nodes.find(peer => peer !== author && put.accepted.includes(peer.node.peerId.toString()))!
    expect(holder.holding.records().find(record => record.key === key)?.arrival).toBe('author')

    const round = await replicateHeldRecords(holder.holding, operationsFor(holder), { intervalMs: INTERVAL, signal: signal() })
    expect(round.records).toBeGreaterThanOrEqual(1)
    expect(round.skippedFresh).toBe(round.records)
    expect(round.messages).toBe(0)
  })

  it('leaves up-to-date peers alone, re-stores on a closest peer that lost the record, and never changes it', async () => {
    const key = '/webkad/drifting'
    const keyBytes = fromString(key)
    const author = nodes[1]!
    await operationsFor(author).put(key, { type: 'text', text: 'keep me' }, { signal: signal() })
    const closest = byDistanceTo(key, nodes.filter(peer => peer !== author)).slice(0, K)
    const [holder, lost] = closest as [TestDhtNode, TestDhtNode]
    const original = (await holder.storedValue(keyBytes))!
    // One of the k closest lost it (as a new node that joined closer to the key would lack it).
    await lost.holding.datastore.delete(kadRecordKey(keyBytes))
    expect(await lost.storedValue(keyBytes)).toBeUndefined()

    const later = Date.now() + 2 * INTERVAL
    const round = await replicateHeldRecords(holder.holding, operationsFor(holder), { intervalMs: INTERVAL, signal: signal(), now: later })
    expect(round.replicated).toBeGreaterThanOrEqual(1)
    expect(round.peersStored).toBeGreaterThanOrEqual(1)
    // The other closest holders answered with the same record: no PUT for them.
    expect(round.upToDate).toBeGreaterThanOrEqual(K - 2)
    const restored = await lost.storedValue(keyBytes)
    expect(restored != null && equals(restored, original)).toBe(true)
    const record = await validateRecord(keyBytes, restored!)
    expect(record.expiresAt).toBe((await validateRecord(keyBytes, original)).expiresAt)
    expect(lost.holding.records().find(held => held.key === key)?.arrival).toBe('copy')

    // Right after, the same holder skips it (it replicated it within the interval).
    const again = await replicateHeldRecords(holder.holding, operationsFor(holder), { intervalMs: INTERVAL, signal: signal(), now: later + 1000 })
    expect(again.messages).toBe(0)
  })

  it('never replicates an expired record, and the sweep drops it', async () => {
    const key = '/webkad/short-lived'
    const keyBytes = fromString(key)
    const author = nodes[2]!
    const put = await operationsFor(author).put(key, { type: 'text', text: 'gone soon' }, { signal: signal(), lifetimeMs: 1_000 })
    const holder = nodes.find(peer => peer !== author && put.accepted.includes(peer.node.peerId.toString()))!
    const live = await operationsFor(author).put('/webkad/long-lived', { type: 'text', text: 'still here' }, { signal: signal() })
    expect(live.accepted.length).toBeGreaterThan(0)
    const afterExpiry = put.expiresAt + 1
    const round = await replicateHeldRecords(holder.holding, operationsFor(holder), { intervalMs: 1, signal: signal(), now: afterExpiry })
    expect(round.replicatedKeys).not.toContain(key)
    expect(holder.holding.records().some(record => record.key === key)).toBe(true)
    const swept = await holder.holding.sweep({ now: afterExpiry })
    expect(swept.removed).toBeGreaterThanOrEqual(1)
    expect(await holder.storedValue(keyBytes)).toBeUndefined()
    expect(holder.holding.records().some(record => record.key === key)).toBe(false)
  })

  it('a cached copy is kept for less time than the record lives, and less again farther from the key', async () => {
    const key = '/webkad/cached'
    const keyBytes = fromString(key)
    const author = nodes[3]!
    const put = await operationsFor(author).put(key, { type: 'text', text: 'cache me' }, { signal: signal() })
    const value = (await nodes.find(peer => put.accepted.includes(peer.node.peerId.toString()))!.storedValue(keyBytes))!
    // Not the author: a PUT from a record's author is its author's, not a cache.
    const sender = byDistanceTo(key, nodes.filter(peer => peer !== author))[0]!
    const far = byDistanceTo(key, nodes.filter(peer => peer !== author && peer !== sender)).slice(K)
    // Each far node counts the peers closer to the key among those it knows: let it know all of
    // them (a connection counts), so what it keeps depends on its distance, not on how the
    // network happened to form.
    const ranked = byDistanceTo(key, nodes)
    for (const peer of far) {
      for (const closer of ranked.slice(0, ranked.indexOf(peer))) await peer.node.dial(closer.node.getMultiaddrs(), { signal: signal() })
    }
    const kad = kadInternals(sender.node.services.dht)
    for (const peer of far) expect(await kad.putValueTo(peer.node.peerId, keyBytes, value, { signal: signal() })).toBe(true)
    const kept = far.map(peer => peer.holding.records().find(record => record.key === key)!)
    const caches = kept.filter(record => record.arrival === 'cache')
    expect(caches.length).toBe(far.length)
    for (const record of caches) {
      expect(record.keepUntil).toBeLessThan(put.expiresAt)
      expect(record.closerPeers).toBeGreaterThanOrEqual(K)
    }
    // Farther nodes know more peers closer to the key, so they keep it less long.
    for (const [index, record] of caches.entries()) {
      const next = caches[index + 1]
      if (next == null) continue
      expect(next.closerPeers).toBeGreaterThan(record.closerPeers)
      expect(next.keepUntil - next.receivedAt).toBeLessThan(record.keepUntil - record.receivedAt)
    }
  })
})
