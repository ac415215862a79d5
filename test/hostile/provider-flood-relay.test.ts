import { sha256 as sha256Hasher } from 'multiformats/hashes/sha2'
import * as raw from 'multiformats/codecs/raw'
import { CID } from 'multiformats/cid'
import { Key } from 'interface-datastore'
import { toString } from 'uint8arrays'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { startRelay } from '../../relay/relay-node.ts'
import { kadInternals } from '../../src/p2p/dht/kad-internals.ts'
import { KAD_PROVIDER_PREFIX } from '../../src/p2p/files/provider-guard.ts'
import { within } from '../helpers/wait.ts'
import { createTestClient, tempDirs, testRelayConfig } from '../relay/helpers.ts'
import type { Relay } from '../../relay/relay-node.ts'
import type { TestClient } from '../relay/helpers.ts'

/**
 * A peer flooding a real relay (startRelay, LevelDB datastore on disk) with ADD_PROVIDER: the
 * relay bounds provider records per peer as a tab does (files/provider-guard.ts), and an honest
 * provider's record still goes in.
 */

const dirs = tempDirs()
const relays: Relay[] = []
const clients: TestClient[] = []

afterEach(async () => {
  await Promise.all(clients.splice(0).map(async client => { await client.stop() }))
  await Promise.all(relays.splice(0).map(async relay => { await relay.stop() }))
  await dirs.cleanup()
})

async function cidOf (text: string): Promise<CID> {
  return CID.create(1, raw.code, await sha256Hasher.digest(new TextEncoder().encode(text)))
}

async function providerClient (relay: Relay): Promise<TestClient> {
  const address = relay.node.getMultiaddrs()[0]
  if (address == null) throw new Error('the relay announces no multiaddr')
  const client = await createTestClient(address)
  clients.push(client)
  await client.dial(address)
  // A provider record carries the provider's addresses: its circuit address comes with the reservation.
  await vi.waitFor(() => {
    // kad-dht drops an ADD_PROVIDER whose provider has no address.
    expect(client.getMultiaddrs().length, 'the client\'s circuit address').toBeGreaterThan(0)
    expect(kadInternals(client.services.dht).routingTable.size, 'the relay in the client\'s routing table').toBeGreaterThan(0)
  }, within(10_000))
  return client
}

async function provide (client: TestClient, cid: CID): Promise<void> {
  for await (const _event of client.services.dht.provide(cid, { signal: AbortSignal.timeout(10_000) })) { /* drain */ }
}

describe('ADD_PROVIDER flood against a relay', () => {
  it('is slowed to 10 new records/s per peer after a burst of 50, and the records it floods are bounded; an honest provider is still stored', async () => {
    const relay = await startRelay(testRelayConfig(await dirs.make()))
    relays.push(relay)
    const mallory = await providerClient(relay)
    const flood = 150
    const startedAt = Date.now()
    // One after another: each ADD_PROVIDER reaches the relay (parallel ones hit its stream limits first).
    for (let index = 0; index < flood; index++) await provide(mallory, await cidOf(`flood ${index}`))
    // ADD_PROVIDER has no answer: the honest record landing marks the relay as done with the flood sent before it.
    const bob = await providerClient(relay)
    const honest = await cidOf('an honest file')
    await provide(bob, honest)
    const datastore = relay.records.holding.datastore
    // kad-dht keys provider records by the multihash in base32 (no multibase prefix).
    const honestKey = new Key(`${KAD_PROVIDER_PREFIX}${toString(honest.multihash.bytes, 'base32')}/${bob.peerId.toString()}`)
    await vi.waitFor(async () => { expect(await datastore.has(honestKey), 'the honest provider record').toBe(true) }, within(10_000))
    const seconds = (Date.now() - startedAt) / 1000
    let fromMallory = 0
    for await (const key of datastore.queryKeys({ prefix: KAD_PROVIDER_PREFIX })) {
      if (key.toString().endsWith(`/${mallory.peerId.toString()}`)) fromMallory++
    }
    expect(fromMallory, 'some of the flood is stored (the relay does serve provider records)').toBeGreaterThan(0)
    expect(fromMallory).toBeLessThanOrEqual(50 + Math.ceil(seconds * 10) + 1)
    expect(fromMallory).toBeLessThan(flood)
  })
})
