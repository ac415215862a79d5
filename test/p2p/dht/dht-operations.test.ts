import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { fromString } from 'uint8arrays'
import { compareDistances, kadIdOfKey, kadIdOfPeer, xorDistance } from '../../../src/p2p/dht/kad-math.ts'
import { QueryLog } from '../../../src/p2p/dht/query-trace.ts'
import { createSignedRecord, validateRecord } from '../../../src/p2p/dht/records.ts'
import { operationsFor, startDhtNetwork, stopDhtNetwork } from './dht-network.ts'
import type { TestDhtNode } from './dht-network.ts'
import type { GetResult } from '../../../src/p2p/dht/dht-operations.ts'
import type { DhtProgressEvent } from '../../../src/p2p/dht/dht-progress.ts'

const NODES = 10
const K = 4

function signal (): AbortSignal {
  return AbortSignal.timeout(20_000)
}

describe('DhtOperations on a network of real kad-dht nodes', () => {
  let nodes: TestDhtNode[]

  beforeAll(async () => {
    nodes = await startDhtNetwork(NODES, K)
  }, 60_000)

  afterAll(async () => {
    await stopDhtNetwork(nodes)
  })

  it('puts on one node and gets the value from every other node', async () => {
    const author = nodes[0]!
    const put = await operationsFor(author).put('/webkad/greeting', { type: 'text', text: 'hello kademlia' }, { signal: signal() })
    expect(put.sequence).toBe(1n)
    expect(put.accepted.length).toBeGreaterThanOrEqual(K - 1)

    for (const reader of nodes.slice(1)) {
      const result = await operationsFor(reader).get('greeting', { signal: signal() })
      expect(result.record.payload).toEqual({ type: 'text', text: 'hello kademlia' })
      expect(result.record.author).toBe(author.node.peerId.toString())
      expect(result.holders.length).toBeGreaterThan(0)
    }
  })

  it('stores the record on the k peers closest to the key by XOR', async () => {
    const author = nodes[1]!
    const key = '/webkad/placement'
    await operationsFor(author).put(key, { type: 'text', text: 'where am I' }, { signal: signal() })
    const keyBytes = fromString(key)
    const target = kadIdOfKey(keyBytes)
    const others = nodes.filter(peer => peer !== author)
    const closest = [...others]
      .sort((a, b) => compareDistances(xorDistance(kadIdOfPeer(a.node.peerId), target), xorDistance(kadIdOfPeer(b.node.peerId), target)))
      .slice(0, K)
    for (const holder of closest) {
      const stored = await holder.storedValue(keyBytes)
      expect(stored, `closest peer ${holder.node.peerId.toString()} holds the record`).toBeDefined()
      const record = await validateRecord(keyBytes, stored!)
      expect(record.payload).toEqual({ type: 'text', text: 'where am I' })
    }
  })

  it('stores on the peers its read-before-write reached, without a second lookup', async () => {
    const log = new QueryLog()
    const author = nodes[7]!
    const put = await operationsFor(author).put('/webkad/one-lookup', { type: 'text', text: 'once' }, { signal: signal(), onProgress: log.progressHandler() })
    // A query's end is published at once.
    const store = log.queries.getSnapshot().find(trace => trace.id === put.queryId)!
    const sends = store.events.filter(event => event.kind === 'send-query')
    // Only PUT_VALUE messages, one per closest peer: no FIND_NODE lookup of its own.
    expect(sends.length).toBe(put.accepted.length + put.failed.length)
    expect(sends.every(event => event.message === 'PUT_VALUE')).toBe(true)
    expect(put.accepted.length).toBe(K)
    expect(store.finalPeers.map(peer => peer.peer).sort()).toEqual([...put.accepted, ...put.failed.map(entry => entry.peer)].sort())
    // This node stored it too, as kad-dht's put does.
    expect(await author.storedValue(fromString('/webkad/one-lookup'))).toBeDefined()
  })

  it('a second put by any node gets a higher sequence and wins', async () => {
    const key = '/webkad/shared'
    await operationsFor(nodes[2]!).put(key, { type: 'text', text: 'first' }, { signal: signal() })
    const second = await operationsFor(nodes[3]!).put(key, { type: 'text', text: 'second' }, { signal: signal() })
    expect(second.sequence).toBe(2n)
    const result = await operationsFor(nodes[4]!).get(key, { signal: signal() })
    expect(result.record.payload).toEqual({ type: 'text', text: 'second' })
    expect(result.record.sequence).toBe(2n)
  })

  it('corrects a holder that returns an outdated record', async () => {
    const author = nodes[5]!
    const key = '/webkad/corrected'
    const keyBytes = fromString(key)
    await operationsFor(author).put(key, { type: 'text', text: 'v1' }, { signal: signal() })
    await operationsFor(author).put(key, { type: 'text', text: 'v2' }, { signal: signal() })
    const holders: TestDhtNode[] = []
    for (const peer of nodes) if (peer !== author && await peer.storedValue(keyBytes) != null) holders.push(peer)
    // The holder closest to the key: every lookup for the key must ask it (a cached copy on a
    // farther peer may legitimately be skipped once the closest peers have answered).
    const target = kadIdOfKey(keyBytes)
    const stale = [...holders].sort((a, b) => compareDistances(xorDistance(kadIdOfPeer(a.node.peerId), target), xorDistance(kadIdOfPeer(b.node.peerId), target)))[0]!
    const oldRecord = await createSignedRecord(author.privateKey, author.node.peerId, { key, payload: { type: 'text', text: 'v1' }, sequence: 1n })
    await stale.injectValue(keyBytes, oldRecord)

    const reader = nodes.find(peer => peer !== author && peer !== stale)!
    const result = await operationsFor(reader).get(key, { signal: signal() })
    expect(result.record.sequence).toBe(2n)
    const outdated = result.outdated.find(entry => entry.peer === stale.node.peerId.toString())
    expect(outdated).toMatchObject({ sequence: 1n, corrected: true })
    const now = await validateRecord(keyBytes, (await stale.storedValue(keyBytes))!)
    expect(now.sequence).toBe(2n)
  })

  it('never returns forged records (bad signature, wrong owner, wrong key)', async () => {
    const honest = nodes[6]!
    const forger = await generateKeyPair('Ed25519')
    const forgerId = peerIdFromPrivateKey(forger)
    const owned = `/webkad/${honest.node.peerId.toString()}/profile`
    const ownedBytes = fromString(owned)
    await operationsFor(honest).put(owned, { type: 'text', text: 'the real profile' }, { signal: signal() })

    // A lying holder replaces its copy with records the validator must refuse.
    const badSignature = await createSignedRecord(honest.privateKey, honest.node.peerId, { key: owned, payload: { type: 'text', text: 'tampered' }, sequence: 99n })
    badSignature.set([(badSignature.at(-1) ?? 0) ^ 0xff], badSignature.length - 1)
    const otherKeyRecord = await createSignedRecord(forger, forgerId, { key: '/webkad/elsewhere', payload: { type: 'text', text: 'moved' }, sequence: 100n })
    const liars: TestDhtNode[] = []
    for (const peer of nodes) if (peer !== honest && await peer.storedValue(ownedBytes) != null) liars.push(peer)
    expect(liars.length).toBeGreaterThanOrEqual(2)
    await liars[0]!.injectValue(ownedBytes, badSignature)
    await liars[1]!.injectValue(ownedBytes, otherKeyRecord)
    await expect(createSignedRecord(forger, forgerId, { key: owned, payload: { type: 'text', text: 'x' }, sequence: 1n })).rejects.toMatchObject({ name: 'InvalidRecordKeyError' })

    const reader = nodes.find(peer => peer !== honest && !liars.includes(peer))!
    const result = await operationsFor(reader).get(owned, { signal: signal() })
    expect(result.record.payload).toEqual({ type: 'text', text: 'the real profile' })
    expect(result.record.author).toBe(honest.node.peerId.toString())
    // Every refusal names a lying holder; lookups need not reach every liar before they end.
    const liarIds = liars.map(peer => peer.node.peerId.toString())
    expect(result.invalid.length).toBeGreaterThan(0)
    for (const entry of result.invalid) expect(liarIds).toContain(entry.peer)
    expect(result.holders.every(holder => !liarIds.slice(0, 2).includes(holder))).toBe(true)
  })

  it('never lets an older record replace a newer one on a holder', async () => {
    const author = nodes[2]!
    const key = '/webkad/guarded'
    const keyBytes = fromString(key)
    await operationsFor(author).put(key, { type: 'text', text: 'new' }, { signal: signal() })
    await operationsFor(author).put(key, { type: 'text', text: 'newer' }, { signal: signal() })
    const holders: TestDhtNode[] = []
    for (const peer of nodes) if (peer !== author && await peer.storedValue(keyBytes) != null) holders.push(peer)
    const holder = holders[0]!
    const stale = await createSignedRecord(author.privateKey, author.node.peerId, { key, payload: { type: 'text', text: 'old' }, sequence: 1n })
    // A real PUT_VALUE over the network, as a lagging or hostile writer would send it.
    const { kadInternals } = await import('../../../src/p2p/dht/kad-internals.ts')
    await kadInternals(nodes[3]!.node.services.dht).putValueTo(holder.node.peerId, keyBytes, stale, { signal: signal() })
    const kept = await validateRecord(keyBytes, (await holder.storedValue(keyBytes))!)
    expect(kept.sequence).toBe(2n)
    expect(kept.payload).toEqual({ type: 'text', text: 'newer' })
  })

  it('reports a missing key as no-record and an oversized value before any network work', async () => {
    await expect(operationsFor(nodes[7]!).get('/webkad/never-written', { signal: signal() }))
      .rejects.toMatchObject({ name: 'RecordNotFoundError', reason: 'no-record' })
    await expect(operationsFor(nodes[7]!).put('big', { type: 'bytes', bytes: new Uint8Array(10 * 1024 + 1) }, { signal: signal() }))
      .rejects.toMatchObject({ name: 'InvalidRecordError', reason: 'oversized' })
    await expect(operationsFor(nodes[7]!).put('', { type: 'text', text: 'x' }, { signal: signal() }))
      .rejects.toMatchObject({ name: 'InvalidRecordKeyError' })
  })

  it('caches the value on the closest queried peer that lacked it', async () => {
    const author = nodes[4]!
    const key = '/webkad/cached'
    const keyBytes = fromString(key)
    await operationsFor(author).put(key, { type: 'text', text: 'cache me' }, { signal: signal() })
    const target = kadIdOfKey(keyBytes)
    const byDistance = nodes.filter(peer => peer !== author)
      .sort((a, b) => compareDistances(xorDistance(kadIdOfPeer(a.node.peerId), target), xorDistance(kadIdOfPeer(b.node.peerId), target)))
    const forgetful = byDistance[0]!
    await forgetful.forget(keyBytes)
    expect(await forgetful.storedValue(keyBytes)).toBeUndefined()

    const reader = byDistance.at(-1)!
    const result = await operationsFor(reader).get(key, { signal: signal() })
    expect(result.cachedOn).toBe(forgetful.node.peerId.toString())
    expect(await forgetful.storedValue(keyBytes)).toBeDefined()
  })

  it('stops at the quorum of records heard from remote holders, not from its own copy', async () => {
    const key = '/webkad/quorum'
    const keyBytes = fromString(key)
    await operationsFor(nodes[8]!).put(key, { type: 'text', text: 'q' }, { signal: signal() })
    // The reader must hear the record from the network, not answer the quorum from its own copy.
    const reader = nodes[9]!
    const getWithoutOwnCopy = async (quorum: number): Promise<GetResult> => {
      await reader.forget(keyBytes)
      return await operationsFor(reader).get(key, { signal: signal(), quorum })
    }
    const whole = await getWithoutOwnCopy(0)
    const early = await getWithoutOwnCopy(2)
    expect(whole.stoppedAtQuorum).toBe(false)
    expect(early.stoppedAtQuorum).toBe(true)
    expect(early.holders.length).toBeGreaterThanOrEqual(2)
    expect(early.holders).not.toContain(reader.node.peerId.toString())
  })

  it('reports each query as typed progress: start, kad-dht events under their own names, end', async () => {
    const events: DhtProgressEvent[] = []
    const result = await operationsFor(nodes[3]!).get('/webkad/greeting', { signal: signal(), onProgress: (event) => { events.push(event) } })
    expect(events[0]).toMatchObject({ type: 'webkad:dht:query-start', detail: { queryId: result.queryId, operation: 'get', label: '/webkad/greeting' } })
    expect(events.at(-1)).toMatchObject({ type: 'webkad:dht:query-end', detail: { queryId: result.queryId, status: 'done' } })
    const middle = events.slice(1, -1)
    expect(middle.some(event => event.type === 'kad-dht:query:send-query')).toBe(true)
    expect(middle.some(event => event.type === 'kad-dht:query:peer-response')).toBe(true)
    expect(middle.every(event => event.type.startsWith('kad-dht:query:'))).toBe(true)

    const failures: DhtProgressEvent[] = []
    await expect(operationsFor(nodes[3]!).get('/webkad/never-there', { signal: signal(), onProgress: (event) => { failures.push(event) } })).rejects.toMatchObject({ name: 'RecordNotFoundError' })
    expect(failures.at(-1)).toMatchObject({ type: 'webkad:dht:query-end', detail: { status: 'failed' } })
  })
})

describe('DhtOperations started before the routing table has a peer', () => {
  it('waits for the first DHT peer (a visible progress step) instead of failing with no-peers', async () => {
    const [lonely, other] = await startDhtNetwork(2, K, { connect: false })
    try {
      const events: DhtProgressEvent[] = []
      const get = operationsFor(lonely!).get('/webkad/not-yet', { signal: signal(), onProgress: (event) => { events.push(event) } })
      await vi.waitFor(() => { expect(events.map(event => event.type)).toContain('webkad:dht:waiting-for-peer') })
      await lonely!.node.dial(other!.node.getMultiaddrs()[0]!)
      // It asked the peer that arrived: the key is missing, not the peers.
      await expect(get).rejects.toMatchObject({ name: 'RecordNotFoundError', reason: 'no-record' })
      expect(events.filter(event => event.type === 'kad-dht:query:send-query').length).toBeGreaterThan(0)
    } finally {
      await stopDhtNetwork([lonely!, other!])
    }
  })
})
