import 'fake-indexeddb/auto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { Record as Libp2pRecord } from '@libp2p/kad-dht'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { IDBDatastore } from 'datastore-idb'
import { MemoryDatastore } from 'datastore-core'
import { Key } from 'interface-datastore'
import { describe, expect, it } from 'vitest'
import { fromString } from 'uint8arrays'
import { kadRecordKey } from '../../../src/p2p/dht/kad-internals.ts'
import { createSignedRecord } from '../../../src/p2p/dht/records.ts'
import { ResilientDatastore } from '../../../src/p2p/storage/resilient-datastore.ts'
import { TabStorage } from '../../../src/p2p/storage/tab-storage.ts'
import type { Datastore } from 'interface-datastore'
import type { PeerId, PrivateKey } from '@libp2p/interface'

let databases = 0

async function openIdb (name: string): Promise<Datastore> {
  const datastore = new IDBDatastore(name)
  await datastore.open()
  return datastore
}

async function recordBytes (author: PrivateKey, key: string, lifetimeMs: number, createdAt = Date.now()): Promise<Uint8Array> {
  const value = await createSignedRecord(author, peerIdFromPrivateKey(author), { key, payload: { type: 'text', text: key }, sequence: 1n, lifetimeMs, createdAt })
  return new Libp2pRecord(fromString(key), value, new Date()).serialize()
}

describe('a tab\'s storage (IndexedDB per identity, through fake-indexeddb)', () => {
  async function identity (): Promise<{ privateKey: PrivateKey, peerId: PeerId }> {
    const privateKey = await generateKeyPair('Ed25519')
    return { privateKey, peerId: peerIdFromPrivateKey(privateKey) }
  }

  it('keeps held records and their notes across a reload, and drops expired ones on load', async () => {
    const { privateKey, peerId } = await identity()
    const name = `webkad-node-test-${++databases}`
    const first = new TabStorage({ peerId, openNodeDatastore: async () => await openIdb(name) })
    const holding = await first.node()
    expect(first.state.getSnapshot()).toEqual({ where: 'disk', droppedOnLoad: 0 })
    const author = await generateKeyPair('Ed25519')
    await holding.datastore.put(kadRecordKey(fromString('/webkad/lasting')), await recordBytes(author, '/webkad/lasting', 60_000), { from: peerIdFromPrivateKey(author) } as never)
    // Created 2 s ago with a 1 s lifetime: already expired when the tab comes back.
    await holding.datastore.put(kadRecordKey(fromString('/webkad/expired')), await recordBytes(privateKey, '/webkad/expired', 1_000, Date.now() - 2_000))
    await holding.datastore.put(new Key('/peers/some-peer'), fromString('peer store entry'))

    const reloaded = new TabStorage({ peerId, openNodeDatastore: async () => await openIdb(name) })
    const after = await reloaded.node()
    expect(reloaded.state.getSnapshot().droppedOnLoad).toBe(1)
    const held = after.records()
    expect(held.map(record => record.key)).toEqual(['/webkad/lasting'])
    expect(held[0]?.arrival).toBe('author')
    expect(reloaded.held.getSnapshot().counts.author).toBe(1)
    expect(await after.datastore.has(new Key('/peers/some-peer'))).toBe(true)

    expect(await reloaded.clear()).toBeGreaterThanOrEqual(3)
    expect(after.records()).toEqual([])
    expect(await after.datastore.has(new Key('/peers/some-peer'))).toBe(false)
  })

  it('an unreadable database: the tab says so and carries on in memory', async () => {
    const { peerId } = await identity()
    const name = `webkad-node-test-${++databases}`
    // A database at a newer version than datastore-idb opens: open() fails with VersionError.
    await new Promise<void>((resolve, reject) => {
      const request = indexedDB.open(name, 5)
      request.onsuccess = () => { request.result.close(); resolve() }
      request.onerror = () => { reject(request.error ?? new Error('open failed')) }
    })
    const storage = new TabStorage({ peerId, openNodeDatastore: async () => await openIdb(name) })
    const holding = await storage.node()
    const state = storage.state.getSnapshot()
    expect(state.where).toBe('memory')
    expect(state.problem).toMatch(/could not be opened \(.*VersionError/)
    await holding.datastore.put(new Key('/peers/x'), fromString('in memory'))
    expect(await holding.datastore.has(new Key('/peers/x'))).toBe(true)
  })

  it('a disk that refuses writes (quota): nothing is lost, the page is told once', async () => {
    const disk = new MemoryDatastore()
    await disk.put(new Key('/old'), fromString('stored before'))
    let refusing = false
    const quota = new Proxy(disk, {
      get (target, property) {
        if (property === 'put' && refusing) return async () => { throw new DOMException('quota', 'QuotaExceededError') }
        const member = Reflect.get(target, property) as unknown
        return typeof member === 'function' ? (member as (...args: unknown[]) => unknown).bind(target) : member
      }
    })
    const problems: Error[] = []
    const resilient = new ResilientDatastore(quota, (err) => { problems.push(err) })
    await resilient.put(new Key('/a'), fromString('on disk'))
    refusing = true
    await resilient.put(new Key('/b'), fromString('in memory'))
    await resilient.put(new Key('/c'), fromString('in memory too'))
    expect(problems.map(problem => problem.name)).toEqual(['QuotaExceededError'])
    expect(resilient.degraded).toBe(true)
    const all = []
    for await (const pair of resilient.query({})) all.push(pair.key.toString())
    expect(all.sort()).toEqual(['/a', '/b', '/c', '/old'])
    expect(new TextDecoder().decode(await resilient.get(new Key('/b')))).toBe('in memory')
    await resilient.delete(new Key('/old'))
    expect(await resilient.has(new Key('/old'))).toBe(false)
  })

  it('the page hears about a quota error through the storage state', async () => {
    const { peerId } = await identity()
    const disk = new MemoryDatastore()
    const refusing = new Proxy(disk, {
      get (target, property) {
        if (property === 'put') return async () => { throw new DOMException('quota', 'QuotaExceededError') }
        const member = Reflect.get(target, property) as unknown
        return typeof member === 'function' ? (member as (...args: unknown[]) => unknown).bind(target) : member
      }
    })
    const storage = new TabStorage({ peerId, openNodeDatastore: async () => refusing })
    const holding = await storage.node()
    await holding.datastore.put(new Key('/peers/y'), fromString('kept'))
    expect(storage.state.getSnapshot()).toMatchObject({ where: 'memory', problem: expect.stringMatching(/quota is full/) })
    expect(await holding.datastore.has(new Key('/peers/y'))).toBe(true)
  })
})
