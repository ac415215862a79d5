import { RELAY_V2_HOP_CODEC } from '@libp2p/circuit-relay-v2'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import { noise } from '@libp2p/noise'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { webSockets } from '@libp2p/websockets'
import { yamux } from '@libp2p/yamux'
import { createLibp2p } from 'libp2p'
import { fromString } from 'uint8arrays'
import { afterEach, describe, expect, it } from 'vitest'
import { startRelay } from '../../relay/relay-node.ts'
import { kadInternals } from '../../src/p2p/dht/kad-internals.ts'
import { createSignedRecord } from '../../src/p2p/dht/records.ts'
import { createTestClient, tempDirs, testRelayConfig, waitFor } from '../relay/helpers.ts'
import type { Relay } from '../../relay/relay-node.ts'
import type { TestClient } from '../relay/helpers.ts'
import type { Libp2p } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/**
 * Hostile peers against a real relay (startRelay on a free WebSocket port, its own data
 * directory). The honest clients are the tab stand-ins of test/relay/helpers.ts (WebSockets +
 * circuit relay transport + webkad's DHT); the misbehaving one is a plain libp2p node that opens
 * and drops connections in a loop and asks for reservations by hand over the HOP protocol.
 */

const dirs = tempDirs()
const relays: Relay[] = []
const nodes: Libp2p[] = []

afterEach(async () => {
  await Promise.all(nodes.splice(0).map(async node => { await node.stop() }))
  await Promise.all(relays.splice(0).map(async relay => { await relay.stop() }))
  await dirs.cleanup()
})

async function relayWith (overrides: { maxReservations?: number } = {}): Promise<{ relay: Relay, address: Multiaddr }> {
  const relay = await startRelay({ ...testRelayConfig(await dirs.make()), ...overrides })
  relays.push(relay)
  const address = relay.node.getMultiaddrs()[0]
  if (address == null) throw new Error('the relay announces no multiaddr')
  return { relay, address }
}

/** A tab stand-in that dials the relay and then holds a reservation on it by itself. */
async function honestClient (relay: Relay, address: Multiaddr): Promise<TestClient> {
  const client = await createTestClient()
  nodes.push(client)
  await client.dial(address)
  await waitFor('the honest client\'s reservation', () => relay.node.services.relay.reservations.has(client.peerId))
  return client
}

/** A plain libp2p node over WebSockets: no relay transport, so it only does what the test says. */
async function plainNode (): Promise<Libp2p> {
  const node = await createLibp2p({
    transports: [webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: () => false },
    services: { identify: identify() }
  })
  nodes.push(node)
  return node
}

// circuit relay v2 HopMessage (type = 1, status = 5), by hand: RESERVE is type 0.
const RESERVE = Uint8Array.of(0x08, 0x00)
const STATUS_OK = 100

/** Reads the `status` field (5) of a HopMessage. */
function hopStatus (bytes: Uint8Array): number | undefined {
  let at = 0
  const varint = (): number => {
    let value = 0
    for (let shift = 1; ; shift *= 128) {
      const byte = bytes[at++]
      if (byte == null) throw new Error('truncated')
      value += (byte & 0x7f) * shift
      if ((byte & 0x80) === 0) return value
    }
  }
  let status: number | undefined
  while (at < bytes.length) {
    const tag = varint()
    if ((tag & 7) === 0) {
      const value = varint()
      if (tag >> 3 === 5) status = value
    } else if ((tag & 7) === 2) {
      const length = varint() // read before adding: `at += varint()` would use the old `at`
      at += length
    } else {
      throw new Error(`wire type ${tag & 7}`)
    }
  }
  return status
}

/** Asks the relay for a reservation on a new HOP stream; resolves with the status it answers. */
async function reserve (node: Libp2p, address: Multiaddr): Promise<number | undefined> {
  const stream = await node.dialProtocol(address, RELAY_V2_HOP_CODEC, { signal: AbortSignal.timeout(10_000) })
  const lp = lpStream(stream)
  await lp.write(RESERVE)
  const status = hopStatus((await lp.read({ signal: AbortSignal.timeout(10_000) })).subarray())
  await stream.close().catch(() => {})
  return status
}

describe('a hostile peer against the relay', () => {
  it('churning connections (and reservations) in a loop neither drops the honest reservation nor leaks', async () => {
    const { relay, address } = await relayWith()
    const reservations = relay.node.services.relay.reservations
    const routingTable = kadInternals(relay.node.services.dht).routingTable
    const honest = await honestClient(relay, address)
    await waitFor('the honest client in the relay routing table', () => routingTable.size === 1)

    const mallory = await plainNode()
    let lostReservation = 0
    let lostConnection = 0
    for (let round = 0; round < 30; round++) {
      const connection = await mallory.dial(address, { signal: AbortSignal.timeout(10_000) })
      // Every third round she also takes a reservation before leaving.
      if (round % 3 === 0) expect(await reserve(mallory, address)).toBe(STATUS_OK)
      if (round % 2 === 0) await connection.close()
      else await mallory.hangUp(address)
      if (!reservations.has(honest.peerId)) lostReservation++
      if (relay.node.getConnections(honest.peerId).every(entry => entry.status !== 'open')) lostConnection++
    }
    // Twice she vanishes without closing anything (her side just drops the connection).
    for (let round = 0; round < 2; round++) {
      const connection = await mallory.dial(address, { signal: AbortSignal.timeout(10_000) })
      expect(await reserve(mallory, address)).toBe(STATUS_OK)
      connection.abort(new Error('mallory vanishes'))
    }
    expect(lostReservation).toBe(0)
    expect(lostConnection).toBe(0)
    expect(reservations.has(honest.peerId)).toBe(true)

    // The relay keeps serving, right away: the honest client's DHT Put reaches it, and a
    // newcomer gets a reservation.
    const author = await generateKeyPair('Ed25519')
    const value = await createSignedRecord(author, peerIdFromPrivateKey(author), { key: '/webkad/after-churn', payload: { type: 'text', text: 'served' }, sequence: 1n })
    const answered: string[] = []
    for await (const event of honest.services.dht.put(fromString('/webkad/after-churn'), value, { signal: AbortSignal.timeout(10_000) })) {
      if (event.name === 'PEER_RESPONSE') answered.push(event.from.toString())
    }
    expect(answered).toContain(relay.node.peerId.toString())
    const newcomer = await honestClient(relay, address)

    // Nothing of mallory is left behind. Connections she closed are gone at once; the two she
    // dropped without a word are reaped by the relay's connection monitor (a ping every 10 s).
    await waitFor('the relay to drop every connection of mallory', () => relay.node.getConnections(mallory.peerId).length === 0, 25_000)
    await waitFor('the relay to free mallory\'s reservation', () => !reservations.has(mallory.peerId))
    expect(new Set([...reservations.keys()].map(peer => peer.toString()))).toEqual(new Set([honest.peerId.toString(), newcomer.peerId.toString()]))
    await waitFor('only honest peers in the relay routing table', () => routingTable.size === 2)
    expect(new Set(relay.node.getConnections().map(connection => connection.remotePeer.toString()))).toEqual(new Set([honest.peerId.toString(), newcomer.peerId.toString()]))
  }, 60_000)

  it('gets one reservation however many it asks for, and the relay keeps serving the others', async () => {
    const { relay, address } = await relayWith({ maxReservations: 3 })
    const reservations = relay.node.services.relay.reservations
    const mallory = await plainNode()
    await mallory.dial(address)
    // Twenty requests, some at once: each is answered OK (a renewal), all on the one slot.
    // (At most 5 at once: yamux resets streams a peer opens beyond 10 not yet acknowledged,
    // MaxEarlyStreamsError, which a loaded machine reaches with 10 plus identify.)
    const answers: Array<number | undefined> = []
    for (let batch = 0; batch < 2; batch++) answers.push(...await Promise.all(Array.from({ length: 5 }, async () => await reserve(mallory, address))))
    for (let index = 0; index < 10; index++) answers.push(await reserve(mallory, address))
    expect(answers).toHaveLength(20)
    expect(answers.every(status => status === STATUS_OK)).toBe(true)
    expect(reservations.size).toBe(1)
    expect(reservations.has(mallory.peerId)).toBe(true)

    // The two remaining slots still go to honest tabs.
    const alice = await honestClient(relay, address)
    const bob = await honestClient(relay, address)
    expect(reservations.size).toBe(3)
    expect(reservations.has(alice.peerId) && reservations.has(bob.peerId)).toBe(true)
    // The limit itself holds: a fourth peer is refused (RESERVATION_REFUSED = 200), not served.
    const carol = await plainNode()
    await carol.dial(address)
    expect(await reserve(carol, address)).toBe(200)
    expect(reservations.size).toBe(3)
    // And mallory's repeated requests did not break her own reservation either.
    expect(await reserve(mallory, address)).toBe(STATUS_OK)
    expect(reservations.size).toBe(3)
  }, 60_000)
})
