import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { fromString } from 'uint8arrays'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { relayStatus, startRelay } from '../../relay/relay-node.ts'
import { createWebkadNode } from '../../src/p2p/node.ts'
import { kadInternals } from '../../src/p2p/dht/kad-internals.ts'
import { waitForReservation } from '../../src/p2p/network/relay-connection.ts'
import { createSignedRecord, validateRecord } from '../../src/p2p/dht/records.ts'
import { within } from '../helpers/wait.ts'
import { createTestClient, tempDirs, testRelayConfig } from './helpers.ts'
import type { RelayConfig } from '../../relay/config.ts'
import type { Relay } from '../../relay/relay-node.ts'
import type { TestClient } from './helpers.ts'

const dirs = tempDirs()
const relays: Relay[] = []
const clients: TestClient[] = []

async function stopAll (): Promise<void> {
  await Promise.all(clients.splice(0).map(async client => { await client.stop() }))
  await Promise.all(relays.splice(0).map(async relay => { await relay.stop() }))
}

afterEach(async () => {
  await stopAll()
  await dirs.cleanup()
})

async function relayOn (config: RelayConfig): Promise<Relay> {
  const relay = await startRelay(config)
  relays.push(relay)
  return relay
}

/** A tab-like Node client dialled to the relay (it then asks for a reservation by itself). */
async function clientOf (relay: Relay): Promise<TestClient> {
  const address = relay.node.getMultiaddrs()[0]
  if (address == null) throw new Error('the relay announces no multiaddr')
  const client = await createTestClient(address)
  clients.push(client)
  await client.dial(address)
  return client
}

/** Stops one client started by clientOf, now. */
async function stopClient (client: TestClient): Promise<void> {
  clients.splice(clients.indexOf(client), 1)
  await client.stop()
}

/** Waits until relay and client hold each other in their routing tables. */
async function waitForDhtLink (relay: Relay, client: TestClient): Promise<void> {
  const relayTable = kadInternals(relay.node.services.dht).routingTable
  const clientTable = kadInternals(client.services.dht).routingTable
  await vi.waitFor(() => {
    expect({ relay: relayTable.size, client: clientTable.size }, 'relay and client in each other\'s routing table').toEqual({ relay: 1, client: 1 })
  }, within(10_000))
}

async function signedRecord (key: string, text: string): Promise<Uint8Array> {
  const author = await generateKeyPair('Ed25519')
  return await createSignedRecord(author, peerIdFromPrivateKey(author), { key, payload: { type: 'text', text }, sequence: 1n })
}

describe('startRelay identity', () => {
  it('keeps its peer ID across restarts on the same data directory, and not on another', async () => {
    const dataDir = await dirs.make()
    const first = await relayOn(testRelayConfig(dataDir))
    const peerId = first.node.peerId.toString()
    expect(peerId).toMatch(/^12D3Koo/)
    const address = first.node.getMultiaddrs()[0]?.toString()
    expect(address).toMatch(new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/\\d+/ws/p2p/${peerId}$`))
    expect(address).not.toContain('/tcp/0/')
    await stopAll()

    const again = await relayOn(testRelayConfig(dataDir))
    expect(again.node.peerId.toString()).toBe(peerId)
    await stopAll()

    const other = await relayOn(testRelayConfig(await dirs.make()))
    expect(other.node.peerId.toString()).not.toBe(peerId)
  })

  it('refuses an unusable data directory with RelayConfigError', async () => {
    const file = join(await dirs.make(), 'a-file')
    await writeFile(file, 'x')
    await expect(startRelay(testRelayConfig(join(file, 'relay')))).rejects.toMatchObject({ name: 'RelayConfigError' })
  })
})

describe('relay reservations', () => {
  it('grants a reservation and a routing-table slot to a tab, and frees both when it disconnects', async () => {
    const relay = await relayOn(testRelayConfig(await dirs.make()))
    const reservations = relay.node.services.relay.reservations
    const routingTable = kadInternals(relay.node.services.dht).routingTable
    expect(reservations.size).toBe(0)
    expect(routingTable.size).toBe(0)

    const client = await clientOf(relay)
    await vi.waitFor(() => { expect(reservations.size, 'reservations on the relay').toBe(1) }, within(10_000))
    expect(reservations.has(client.peerId)).toBe(true)
    await vi.waitFor(() => { expect(routingTable.size, 'the relay routing table').toBe(1) }, within(10_000))
    // The client announces its relayed address once the reservation exists.
    await vi.waitFor(() => {
      expect(client.getMultiaddrs().map(String), 'the client\'s addresses').toContainEqual(expect.stringContaining(`/p2p/${relay.node.peerId.toString()}/p2p-circuit`))
    }, within(10_000))

    await stopClient(client)
    await vi.waitFor(() => { expect(reservations.size, 'reservations after the tab left').toBe(0) }, within(10_000))
    await vi.waitFor(() => { expect(routingTable.size, 'the relay routing table after the tab left').toBe(0) }, within(10_000))
  })

  it('has a tab in its routing table, with its relayed address in FIND_NODE answers, by the time the tab sees its reservation', async () => {
    const relay = await relayOn(testRelayConfig(await dirs.make()))
    const client = await clientOf(relay)
    // The moment the client holds the reservation (its circuit address appears), not later.
    await waitForReservation(client, AbortSignal.timeout(10_000))
    const relayKad = kadInternals(relay.node.services.dht)
    expect(relayKad.routingTablePeers().map(contact => contact.peerId.toString())).toContain(client.peerId.toString())
    const other = await clientOf(relay)
    await waitForReservation(other, AbortSignal.timeout(10_000))
    // A real FIND_NODE from another tab: the answer carries the first tab's relayed address.
    const addresses: string[] = []
    for await (const event of other.services.dht.getClosestPeers(client.peerId.toMultihash().bytes, { signal: AbortSignal.timeout(10_000) })) {
      if (event.name === 'PEER_RESPONSE') for (const peer of event.closer) if (peer.id.equals(client.peerId)) addresses.push(...peer.multiaddrs.map(String))
    }
    expect(addresses).toContain(`${relay.node.getMultiaddrs()[0]!.toString()}/p2p-circuit/p2p/${client.peerId.toString()}`)
  })

  it('gives a freed reservation slot to the next tab (a full relay does not stay full)', async () => {
    const relay = await relayOn({ ...testRelayConfig(await dirs.make()), maxReservations: 1 })
    const reservations = relay.node.services.relay.reservations
    const first = await clientOf(relay)
    await vi.waitFor(() => { expect(reservations.has(first.peerId), 'the first tab\'s reservation').toBe(true) }, within(10_000))
    await stopClient(first)
    await vi.waitFor(() => { expect(reservations.size, 'reservations after the first tab left').toBe(0) }, within(10_000))

    const second = await clientOf(relay)
    await vi.waitFor(() => { expect(reservations.has(second.peerId), 'the second tab\'s reservation').toBe(true) }, within(10_000))
    expect(reservations.size).toBe(1)
  })
})

describe('relay DHT records', () => {
  const keyText = '/webkad/persist-test'
  const key = fromString(keyText)

  it('are kept in the data directory and served again after a restart', async () => {
    const dataDir = await dirs.make()
    const value = await signedRecord(keyText, 'persisted across restarts')

    const first = await relayOn(testRelayConfig(dataDir))
    // kad-dht runs no query (put or get) while its routing table is empty: give it one peer.
    await waitForDhtLink(first, await clientOf(first))
    // The relay's own put stores the record in its datastore, then sends it to its one peer.
    const putEvents: string[] = []
    for await (const event of first.node.services.dht.put(key, value, { signal: AbortSignal.timeout(10_000) })) {
      putEvents.push(event.name)
    }
    expect(putEvents).toContain('PEER_RESPONSE')
    expect(putEvents).not.toContain('QUERY_ERROR')
    await stopAll()

    // The same data directory again, and a client that has never seen the record: the only
    // place it can come from is the relay's datastore on disk.
    const second = await relayOn(testRelayConfig(dataDir))
    const client = await clientOf(second)
    await waitForDhtLink(second, client)
    const found: Array<{ from: string, value: Uint8Array }> = []
    for await (const event of client.services.dht.get(key, { signal: AbortSignal.timeout(10_000) })) {
      if (event.name === 'VALUE') found.push({ from: event.from.toString(), value: event.value })
    }
    expect(found.map(entry => entry.from)).toEqual([second.node.peerId.toString()])
    const record = await validateRecord(key, found[0]!.value)
    expect(record.payload).toEqual({ type: 'text', text: 'persisted across restarts' })
  })

  it('are not served by a relay started on another data directory', async () => {
    const first = await relayOn(testRelayConfig(await dirs.make()))
    await waitForDhtLink(first, await clientOf(first))
    for await (const _event of first.node.services.dht.put(key, await signedRecord(keyText, 'first dir only'), { signal: AbortSignal.timeout(10_000) })) { /* drain */ }
    await stopAll()

    const other = await relayOn(testRelayConfig(await dirs.make()))
    const client = await clientOf(other)
    await waitForDhtLink(other, client)
    const found: string[] = []
    for await (const event of client.services.dht.get(key, { signal: AbortSignal.timeout(10_000) })) {
      if (event.name === 'VALUE') found.push(event.from.toString())
    }
    expect(found).toEqual([])
  })

  it('are counted in /status by how they arrived, and replicated to a newcomer every replication interval', async () => {
    const relay = await relayOn({ ...testRelayConfig(await dirs.make()), replicationIntervalMs: 3_000 })
    const authorKey = await generateKeyPair('Ed25519')
    const author = await createWebkadNode({ privateKey: authorKey, webrtc: false, bootnodes: [relay.node.getMultiaddrs()[0]!] })
    clients.push(author)
    await author.dial(relay.node.getMultiaddrs()[0]!)
    await waitForDhtLink(relay, author)
    const value = await createSignedRecord(authorKey, author.peerId, { key: keyText, payload: { type: 'text', text: 'replicate me' }, sequence: 1n })
    expect(await kadInternals(author.services.dht).putValueTo(relay.node.peerId, key, value, { signal: AbortSignal.timeout(10_000) })).toBe(true)
    expect(relayStatus(relay).records).toMatchObject({ held: 1, byArrival: { author: 1, own: 0, copy: 0, cache: 0 }, replicationIntervalMs: 3_000 })
    await stopClient(author)

    // A newcomer that never saw the record: after the relay's next replication it holds it.
    const newcomer = await clientOf(relay)
    await vi.waitFor(async () => {
      for await (const _event of newcomer.services.dht.get(key, { signal: AbortSignal.timeout(2_000) })) { /* drain */ }
      const local = await newcomer.services.dht.get(key, { signal: AbortSignal.timeout(2_000) })
      let fromSelf = false
      for await (const event of local) if (event.name === 'VALUE' && event.from.equals(newcomer.peerId)) fromSelf = true
      expect(fromSelf, 'the newcomer holds the record').toBe(true)
    }, within(25_000))
    expect(relayStatus(relay).records.lastReplication).toMatchObject({ replicated: 1, peersStored: 1 })
  }, 40_000)
})

