import { generateKeyPair } from '@libp2p/crypto/keys'
import { Record as Libp2pRecord } from '@libp2p/kad-dht'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { MemoryDatastore } from 'datastore-core'
import { Key } from 'interface-datastore'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { fromString } from 'uint8arrays'
import { kadRecordKey } from '../../../src/p2p/dht/kad-internals.ts'
import { HOLDING_PREFIX, RecordHolding, cachedKeepUntil } from '../../../src/p2p/dht/record-holding.ts'
import { createSignedRecord } from '../../../src/p2p/dht/records.ts'
import type { PrivateKey } from '@libp2p/interface'

async function stored (author: PrivateKey, key: string, sequence: bigint, lifetimeMs = 60_000): Promise<Uint8Array> {
  const value = await createSignedRecord(author, peerIdFromPrivateKey(author), { key, payload: { type: 'text', text: `${key} ${sequence}` }, sequence, lifetimeMs })
  return new Libp2pRecord(fromString(key), value, new Date()).serialize()
}

describe('cachedKeepUntil: the lifetime of a cached copy', () => {
  it('keeps the record until it expires among the k closest, and halves the time left per peer beyond', () => {
    expect(cachedKeepUntil(0, 1000, 0, 3)).toBe(1000)
    expect(cachedKeepUntil(0, 1000, 2, 3)).toBe(1000)
    expect(cachedKeepUntil(0, 1000, 3, 3)).toBe(500)
    expect(cachedKeepUntil(0, 1000, 4, 3)).toBe(250)
    expect(cachedKeepUntil(100, 1100, 5, 3)).toBe(225)
  })

  it('never outlives the record and never grows with distance (property)', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 1e12 }), fc.integer({ min: 0, max: 1e9 }), fc.integer({ min: 0, max: 300 }), fc.integer({ min: 1, max: 20 }), (receivedAt, lifetime, closer, k) => {
      const expiresAt = receivedAt + lifetime
      const here = cachedKeepUntil(receivedAt, expiresAt, closer, k)
      const farther = cachedKeepUntil(receivedAt, expiresAt, closer + 1, k)
      return here <= expiresAt && here >= receivedAt && farther <= here
    }))
  })
})

describe('RecordHolding notes on disk', () => {
  it('drops notes it cannot read on load, and notes records that have none as copies', async () => {
    const self = await generateKeyPair('Ed25519')
    const author = await generateKeyPair('Ed25519')
    const datastore = new MemoryDatastore()
    await datastore.put(kadRecordKey(fromString('/webkad/unnoted')), await stored(author, '/webkad/unnoted', 1n))
    const garbage = [fromString('not json'), fromString('{"key":"/elsewhere","arrival":"own"}'), fromString('{"key":"/webkad/x","author":"a","sequence":"1e400","expiresAt":1,"keepUntil":1,"receivedAt":1,"bytes":1,"closerPeers":0,"arrival":"own"}'), new Uint8Array([0xff, 0xfe])]
    for (const [index, bytes] of garbage.entries()) await datastore.put(new Key(`${HOLDING_PREFIX}/garbage-${index}`), bytes)
    const holding = new RecordHolding(datastore, { self: peerIdFromPrivateKey(self) })
    await holding.load()
    expect(holding.records().map(record => [record.key, record.arrival])).toEqual([['/webkad/unnoted', 'copy']])
    for (let index = 0; index < garbage.length; index++) expect(await datastore.has(new Key(`${HOLDING_PREFIX}/garbage-${index}`))).toBe(false)
  })

  it('keeps the better record: an older sequence never replaces a newer one, whoever sends it', async () => {
    const self = await generateKeyPair('Ed25519')
    const author = await generateKeyPair('Ed25519')
    const holding = new RecordHolding(new MemoryDatastore(), { self: peerIdFromPrivateKey(self) })
    const key = kadRecordKey(fromString('/webkad/versions'))
    const from = peerIdFromPrivateKey(author)
    await holding.datastore.put(key, await stored(author, '/webkad/versions', 2n), { from } as never)
    await holding.datastore.put(key, await stored(author, '/webkad/versions', 1n), { from } as never)
    expect(holding.records()[0]?.sequence).toBe(2n)
    await holding.datastore.delete(key)
    expect(holding.records()).toEqual([])
  })
})
