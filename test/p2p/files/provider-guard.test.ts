import { MemoryDatastore } from 'datastore-core'
import { Key } from 'interface-datastore'
import { describe, expect, it } from 'vitest'
import { KAD_PROVIDER_PREFIX, guardProviderRecords } from '../../../src/p2p/files/provider-guard.ts'

const record = (cid: string, peer: string): Key => new Key(`${KAD_PROVIDER_PREFIX}${cid}/${peer}`)
const value = new Uint8Array([1])

describe('guardProviderRecords bounds provider records as kad-dht does', () => {
  it('per peer: a peer past its cap is refused with RecordStoreLimitError; refreshing a held record and other peers still work', async () => {
    const datastore = guardProviderRecords(new MemoryDatastore(), { maxPerPeer: 3, ratePerSecond: 1000, burst: 1000 })
    for (const cid of ['a', 'b', 'c']) await datastore.put(record(cid, 'mallory'), value)
    await expect(datastore.put(record('d', 'mallory'), value)).rejects.toMatchObject({ name: 'RecordStoreLimitError' })
    await datastore.put(record('a', 'mallory'), value) // a refresh
    await datastore.put(record('d', 'bob'), value)
    expect(await datastore.has(record('d', 'mallory'))).toBe(false)
    // A deleted record frees its slot.
    await datastore.delete(record('a', 'mallory'))
    await datastore.put(record('d', 'mallory'), value)
  })

  it('per key and in all: one CID keeps at most maxPerKey providers; the total is capped; own records are never limited', async () => {
    const datastore = guardProviderRecords(new MemoryDatastore(), { maxPerKey: 2, maxTotal: 4, ratePerSecond: 1000, burst: 1000, self: 'me' })
    await datastore.put(record('x', 'p1'), value)
    await datastore.put(record('x', 'p2'), value)
    await expect(datastore.put(record('x', 'p3'), value)).rejects.toMatchObject({ name: 'RecordStoreLimitError' })
    await datastore.put(record('y', 'p3'), value)
    await datastore.put(record('z', 'p4'), value)
    await expect(datastore.put(record('w', 'p5'), value)).rejects.toMatchObject({ name: 'RecordStoreLimitError' })
    await datastore.put(record('x', 'me'), value)
    expect(await datastore.has(record('x', 'me'))).toBe(true)
    // Anything else in the datastore is not counted or refused.
    await datastore.put(new Key('/dht/record/abc'), value)
  })

  it('per second: past the burst a peer is slowed (the rate, not the cap, refuses it)', async () => {
    const datastore = guardProviderRecords(new MemoryDatastore(), { ratePerSecond: 1, burst: 5 })
    const results = await Promise.allSettled(Array.from({ length: 8 }, async (_, index) => { await datastore.put(record(`k${index}`, 'mallory'), value) }))
    expect(results.filter(result => result.status === 'fulfilled')).toHaveLength(5)
    const refused = results.find(result => result.status === 'rejected')
    expect(refused?.status === 'rejected' ? refused.reason : undefined).toMatchObject({ name: 'RecordStoreLimitError', reason: 'rate' })
  })
})
