import { circuitRelayTransport, RELAY_V2_HOP_CODEC } from '@libp2p/circuit-relay-v2'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { webSockets } from '@libp2p/websockets'
import { fromString } from 'uint8arrays'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { startRelay } from '../../relay/relay-node.ts'
import { kadInternals } from '../../src/p2p/dht/kad-internals.ts'
import { createSignedRecord } from '../../src/p2p/dht/records.ts'
import { createWebkadNode } from '../../src/p2p/node.ts'
import { QUIET_DHT } from '../helpers/nodes.ts'
import { HopMessage, Status } from '../helpers/pb/circuit-relay.ts'
import { within } from '../helpers/wait.ts'
import { createTestClient, tempDirs, testRelayConfig } from '../relay/helpers.ts'
import type { RelayConfig } from '../../relay/config.ts'
import type { LimitHit } from '../../relay/limits.ts'
import type { Relay } from '../../relay/relay-node.ts'
import type { TestClient } from '../relay/helpers.ts'
import type { Libp2p, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/**
 * Hostile peers against a real relay (startRelay on a free WebSocket port, its own data
 * directory). The honest clients are the tab stand-ins of test/relay/helpers.ts (createWebkadNode
 * without WebRTC); the misbehaving ones are webkad nodes too, with only the transports a test
 * needs and a DHT that keeps quiet (QUIET_DHT), that open and drop connections in a loop and
 * ask for reservations and circuits by hand over the HOP protocol (test/helpers/pb/). Every local peer comes from 127.0.0.1, so the per-IP limits are tested by setting
 * them just above what the honest peers use.
 */

const dirs = tempDirs()
const relays: Relay[] = []
const nodes: Libp2p[] = []

afterEach(async () => {
  await Promise.all(nodes.splice(0).map(async node => { await node.stop() }))
  await Promise.all(relays.splice(0).map(async relay => { await relay.stop() }))
  await dirs.cleanup()
})

/** A relay on a free port; `hits` collects what it reports once per offender and limit. */
async function relayWith (overrides: Partial<RelayConfig> = {}): Promise<{ relay: Relay, address: Multiaddr, hits: LimitHit[] }> {
  const hits: LimitHit[] = []
  const relay = await startRelay({ ...testRelayConfig(await dirs.make()), ...overrides }, { onLimitHit: hit => { hits.push(hit) } })
  relays.push(relay)
  const address = relay.node.getMultiaddrs()[0]
  if (address == null) throw new Error('the relay announces no multiaddr')
  return { relay, address, hits }
}

/** A tab stand-in that dials the relay and then holds a reservation on it by itself. */
async function honestClient (relay: Relay, address: Multiaddr): Promise<TestClient> {
  const client = await createTestClient(address)
  nodes.push(client)
  await client.dial(address)
  await vi.waitFor(() => { expect(relay.node.services.relay.reservations.has(client.peerId), 'the honest client\'s reservation').toBe(true) }, within(10_000))
  return client
}

/** A webkad node over WebSockets only: no relay transport, so it only does what the test says. */
async function plainNode (address: Multiaddr): Promise<Libp2p> {
  return await testNode(address, { circuit: false, reserve: false })
}

/**
 * A webkad node with the circuit relay transport and a quiet DHT (whose lookups would otherwise
 * open circuits of their own): with `reserve` it holds a reservation on the relay it dials, like a tab.
 */
async function circuitNode (address: Multiaddr, options: { reserve: boolean }): Promise<Libp2p> {
  return await testNode(address, { circuit: true, reserve: options.reserve })
}

async function testNode (relay: Multiaddr, options: { circuit: boolean, reserve: boolean }): Promise<Libp2p> {
  const node = await createWebkadNode({
    transports: options.circuit ? [webSockets(), circuitRelayTransport()] : [webSockets()],
    listen: options.reserve ? ['/p2p-circuit'] : [],
    bootnodes: [relay],
    dht: QUIET_DHT
  })
  nodes.push(node)
  return node
}

/** A circuitNode holding a reservation on the relay: a destination circuits can reach. */
async function reservedTarget (relay: Relay, address: Multiaddr): Promise<Libp2p> {
  const node = await circuitNode(address, { reserve: true })
  await node.dial(address)
  await vi.waitFor(() => { expect(relay.node.services.relay.reservations.has(node.peerId), 'the target\'s reservation').toBe(true) }, within(10_000))
  return node
}

function circuitAddress (relayAddress: Multiaddr, peer: PeerId): Multiaddr {
  return relayAddress.encapsulate(`/p2p-circuit/p2p/${peer.toString()}`)
}

const PING_PROTOCOL = '/ipfs/ping/1.0.0'
const RESERVE: HopMessage = { type: HopMessage.Type.RESERVE }

/** HopMessage { type: CONNECT, peer: { id } }: a circuit to `destination`. */
function connectTo (destination: PeerId): HopMessage {
  return { type: HopMessage.Type.CONNECT, peer: { id: destination.toMultihash().bytes, addrs: [] } }
}

/** Sends one HOP request on a new stream; resolves with the status the relay answers. */
async function hopRequest (node: Libp2p, address: Multiaddr, request: HopMessage): Promise<Status | undefined> {
  const stream = await node.dialProtocol(address, RELAY_V2_HOP_CODEC, { signal: AbortSignal.timeout(10_000) })
  const lp = lpStream(stream)
  await lp.write(HopMessage.encode(request))
  const reply = HopMessage.decode(await lp.read({ signal: AbortSignal.timeout(10_000) }))
  expect(reply.type, 'the relay answers with a STATUS message').toBe(HopMessage.Type.STATUS)
  // A granted circuit is now this stream: leave it open. Anything else is done.
  if (reply.status !== Status.OK || request.type === HopMessage.Type.RESERVE) await stream.close().catch(() => {})
  return reply.status
}

/** Asks the relay for a reservation on a new HOP stream; resolves with the status it answers. */
async function reserve (node: Libp2p, address: Multiaddr): Promise<Status | undefined> {
  return await hopRequest(node, address, RESERVE)
}

/**
 * Dials; resolves 'open', or the error that refused it. A circuit dial resolves only once the
 * relay answered OK. A direct connection the relay's gater refuses after the handshake (per-peer
 * limits need the peer ID) may look open to the dialer for a moment (noise negotiates the muxer
 * inside the handshake), so it is probed with a ping stream, which fails once the relay closed it.
 * (Not identify: the dialer's own identify may hold the one identify stream the relay accepts.)
 */
async function dialOutcome (node: Libp2p, address: Multiaddr, options: { force?: boolean } = {}): Promise<string> {
  try {
    const connection = await node.dial(address, { signal: AbortSignal.timeout(10_000), ...options })
    if (address.getComponents().some(component => component.name === 'p2p-circuit')) return 'open'
    const stream = await connection.newStream(PING_PROTOCOL, { signal: AbortSignal.timeout(10_000) })
    await stream.close()
    return 'open'
  } catch (err) {
    return (err as Error).message
  }
}

describe('a hostile peer against the relay', () => {
  it('churning connections (and reservations) in a loop neither drops the honest reservation nor leaks', async () => {
    // Her 32 connections fit her per-peer rate here; the next test is about that rate.
    const { relay, address } = await relayWith({ inboundPerMinutePerPeer: 100 })
    const reservations = relay.node.services.relay.reservations
    const routingTable = kadInternals(relay.node.services.dht).routingTable
    const honest = await honestClient(relay, address)
    await vi.waitFor(() => { expect(routingTable.size, 'the relay routing table').toBe(1) }, within(10_000))

    const mallory = await plainNode(address)
    let lostReservation = 0
    let lostConnection = 0
    for (let round = 0; round < 30; round++) {
      const connection = await mallory.dial(address, { signal: AbortSignal.timeout(10_000) })
      // Every third round she also takes a reservation before leaving.
      if (round % 3 === 0) expect(await reserve(mallory, address)).toBe(Status.OK)
      if (round % 2 === 0) await connection.close()
      else await mallory.hangUp(address)
      if (!reservations.has(honest.peerId)) lostReservation++
      if (relay.node.getConnections(honest.peerId).every(entry => entry.status !== 'open')) lostConnection++
    }
    // Twice she vanishes without closing anything (her side just drops the connection).
    for (let round = 0; round < 2; round++) {
      const connection = await mallory.dial(address, { signal: AbortSignal.timeout(10_000) })
      expect(await reserve(mallory, address)).toBe(Status.OK)
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
    await vi.waitFor(() => { expect(relay.node.getConnections(mallory.peerId), 'mallory\'s connections on the relay').toHaveLength(0) }, within(25_000))
    await vi.waitFor(() => { expect(reservations.has(mallory.peerId), 'mallory\'s reservation').toBe(false) }, within(10_000))
    expect(new Set([...reservations.keys()].map(peer => peer.toString()))).toEqual(new Set([honest.peerId.toString(), newcomer.peerId.toString()]))
    await vi.waitFor(() => { expect(routingTable.size, 'the relay routing table (the two honest tabs)').toBe(2) }, within(10_000))
    expect(new Set(relay.node.getConnections().map(connection => connection.remotePeer.toString()))).toEqual(new Set([honest.peerId.toString(), newcomer.peerId.toString()]))
  }, 60_000)

  it('gets one reservation however many it asks for, and the relay keeps serving the others', async () => {
    const { relay, address } = await relayWith({ maxReservations: 3 })
    const reservations = relay.node.services.relay.reservations
    const mallory = await plainNode(address)
    await mallory.dial(address)
    // Twenty requests, some at once: each is answered OK (a renewal), all on the one slot.
    // (At most 5 at once: yamux resets streams a peer opens beyond 10 not yet acknowledged,
    // MaxEarlyStreamsError, which a loaded machine reaches with 10 plus identify.)
    const answers: Array<Status | undefined> = []
    for (let batch = 0; batch < 2; batch++) answers.push(...await Promise.all(Array.from({ length: 5 }, async () => await reserve(mallory, address))))
    for (let index = 0; index < 10; index++) answers.push(await reserve(mallory, address))
    expect(answers).toHaveLength(20)
    expect(answers.every(status => status === Status.OK)).toBe(true)
    expect(reservations.size).toBe(1)
    expect(reservations.has(mallory.peerId)).toBe(true)

    // The two remaining slots still go to honest tabs.
    const alice = await honestClient(relay, address)
    const bob = await honestClient(relay, address)
    expect(reservations.size).toBe(3)
    expect(reservations.has(alice.peerId) && reservations.has(bob.peerId)).toBe(true)
    // The limit itself holds: a fourth peer is refused (RESERVATION_REFUSED), not served.
    const carol = await plainNode(address)
    await carol.dial(address)
    expect(await reserve(carol, address)).toBe(Status.RESERVATION_REFUSED)
    expect(reservations.size).toBe(3)
    // And mallory's repeated requests did not break her own reservation either.
    expect(await reserve(mallory, address)).toBe(Status.OK)
    expect(reservations.size).toBe(3)
  }, 60_000)
})

describe('the relay limits against a hostile peer', () => {
  const LOCAL = '127.0.0.1'

  it('refuses a peer opening and closing connections in a loop past its per-peer rate, logs it once, and serves the others', async () => {
    const { relay, address, hits } = await relayWith({ inboundPerMinutePerPeer: 5 })
    const honest = await honestClient(relay, address)
    const mallory = await plainNode(address)
    const outcomes: string[] = []
    for (let round = 0; round < 12; round++) {
      const outcome = await dialOutcome(mallory, address)
      outcomes.push(outcome === 'open' ? 'open' : 'refused')
      await mallory.hangUp(address)
    }
    // Five at once (the burst), then the gater closes each new connection during its upgrade.
    expect(outcomes).toEqual([...Array<string>(5).fill('open'), ...Array<string>(7).fill('refused')])
    expect(hits).toEqual([{ limit: 'inbound-rate-per-peer', max: 5, offender: mallory.peerId.toString(), ip: LOCAL }])

    // The honest client lost nothing, and a newcomer from the same IP connects and reserves.
    expect(relay.node.services.relay.reservations.has(honest.peerId)).toBe(true)
    expect(relay.node.getConnections(honest.peerId).some(connection => connection.status === 'open')).toBe(true)
    expect(await reserve(honest, address)).toBe(Status.OK)
    await honestClient(relay, address)
    await vi.waitFor(() => { expect(relay.node.getConnections(mallory.peerId), 'mallory\'s connections on the relay').toHaveLength(0) }, within(10_000))
  }, 60_000)

  it('refuses a peer more open connections than allowed per peer, and keeps the ones it has', async () => {
    const { relay, address, hits } = await relayWith({ maxConnectionsPerPeer: 2 })
    const honest = await honestClient(relay, address)
    const mallory = await plainNode(address)
    expect(await dialOutcome(mallory, address)).toBe('open')
    expect(await dialOutcome(mallory, address, { force: true })).toBe('open')
    for (let attempt = 0; attempt < 3; attempt++) expect(await dialOutcome(mallory, address, { force: true })).not.toBe('open')
    expect(relay.node.getConnections(mallory.peerId).filter(connection => connection.status === 'open')).toHaveLength(2)
    expect(hits).toEqual([{ limit: 'connections-per-peer', max: 2, offender: mallory.peerId.toString(), ip: LOCAL }])
    // Her own connections still work, and so does everyone else's.
    expect(await reserve(mallory, address)).toBe(Status.OK)
    expect(await reserve(honest, address)).toBe(Status.OK)
    expect(relay.node.services.relay.reservations.has(honest.peerId)).toBe(true)
  }, 60_000)

  it('refuses connections from an IP that has the maximum open, logs the IP once, and accepts again when one leaves', async () => {
    const { relay, address, hits } = await relayWith({ maxConnectionsPerIp: 3 })
    const honest = await honestClient(relay, address)
    const first = await plainNode(address)
    const second = await plainNode(address)
    expect(await dialOutcome(first, address)).toBe('open')
    expect(await dialOutcome(second, address)).toBe('open')
    const third = await plainNode(address)
    expect(await dialOutcome(third, address)).not.toBe('open')
    expect(await dialOutcome(third, address)).not.toBe('open')
    expect(hits).toEqual([{ limit: 'connections-per-ip', max: 3, offender: LOCAL }])

    expect(relay.node.services.relay.reservations.has(honest.peerId)).toBe(true)
    expect(await reserve(honest, address)).toBe(Status.OK)
    await first.hangUp(address)
    await vi.waitFor(() => { expect(relay.node.getConnections(first.peerId), 'the first one\'s connections on the relay').toHaveLength(0) }, within(10_000))
    expect(await dialOutcome(third, address)).toBe('open')
  }, 60_000)

  it('answers RESERVATION_REFUSED past the per-IP reservations, renews those held, and keeps their holders reachable', async () => {
    const { relay, address, hits } = await relayWith({ maxReservationsPerIp: 3 })
    const reservations = relay.node.services.relay.reservations
    const honest = await honestClient(relay, address)
    const mallories = await Promise.all([plainNode(address), plainNode(address), plainNode(address), plainNode(address)])
    for (const mallory of mallories) await mallory.dial(address)
    const [first, second, third, fourth] = mallories as [Libp2p, Libp2p, Libp2p, Libp2p]
    expect(await reserve(first, address)).toBe(Status.OK)
    expect(await reserve(second, address)).toBe(Status.OK)
    expect(await reserve(third, address)).toBe(Status.RESERVATION_REFUSED)
    expect(await reserve(fourth, address)).toBe(Status.RESERVATION_REFUSED)
    expect(await reserve(third, address)).toBe(Status.RESERVATION_REFUSED)
    expect(reservations.size).toBe(3)
    expect(hits).toEqual([{ limit: 'reservations-per-ip', max: 3, offender: LOCAL }])

    // Holders renew (one reservation per peer: a repeat is a renewal, never refused) ...
    expect(await reserve(honest, address)).toBe(Status.OK)
    expect(await reserve(first, address)).toBe(Status.OK)
    // ... and stay reachable: a refused peer still opens a circuit to the honest one.
    expect(await hopRequest(third, address, connectTo(honest.peerId))).toBe(Status.OK)

    // When a holder leaves, its slot is free again.
    await first.hangUp(address)
    await vi.waitFor(() => { expect(reservations.has(first.peerId), 'the first reservation').toBe(false) }, within(10_000))
    expect(await reserve(third, address)).toBe(Status.OK)
    expect(hits).toHaveLength(1)
  }, 60_000)

  it('answers RESOURCE_LIMIT_EXCEEDED past the circuits per peer, as source or destination, and serves other circuits', async () => {
    const { relay, address, hits } = await relayWith({ maxCircuitsPerPeer: 2 })
    const targets = await Promise.all([reservedTarget(relay, address), reservedTarget(relay, address), reservedTarget(relay, address)])
    const [one, two, three] = targets as [Libp2p, Libp2p, Libp2p]

    // As source: mallory's third circuit is refused, with the protocol's status.
    const mallory = await circuitNode(address, { reserve: false })
    expect(await dialOutcome(mallory, circuitAddress(address, one.peerId))).toBe('open')
    expect(await dialOutcome(mallory, circuitAddress(address, two.peerId))).toBe('open')
    expect(await dialOutcome(mallory, circuitAddress(address, three.peerId))).toContain('RESOURCE_LIMIT_EXCEEDED')
    expect(await dialOutcome(mallory, circuitAddress(address, three.peerId))).toContain('RESOURCE_LIMIT_EXCEEDED')
    // By hand, the HOP status is RESOURCE_LIMIT_EXCEEDED.
    expect(await hopRequest(mallory, address, connectTo(three.peerId))).toBe(Status.RESOURCE_LIMIT_EXCEEDED)
    // Her circuits are still up.
    expect(mallory.getConnections(one.peerId).some(connection => connection.status === 'open')).toBe(true)

    // Another peer still reaches the targets: `one` is in one circuit, below the limit.
    const alice = await circuitNode(address, { reserve: false })
    expect(await dialOutcome(alice, circuitAddress(address, one.peerId))).toBe('open')
    expect(await dialOutcome(alice, circuitAddress(address, three.peerId))).toBe('open')
    // As destination: `one` is now in two circuits, so a third to it is refused.
    const bob = await circuitNode(address, { reserve: false })
    expect(await dialOutcome(bob, circuitAddress(address, one.peerId))).toContain('RESOURCE_LIMIT_EXCEEDED')
    expect(await dialOutcome(bob, circuitAddress(address, two.peerId))).toBe('open')

    expect(hits).toEqual([
      { limit: 'circuits-per-peer', max: 2, offender: mallory.peerId.toString(), ip: LOCAL },
      { limit: 'circuits-per-peer', max: 2, offender: one.peerId.toString(), ip: LOCAL }
    ])
    // A circuit that closes frees its place at once.
    await mallory.hangUp(one.peerId)
    await vi.waitFor(() => {
      expect(relay.node.getConnections(one.peerId).map(connection => connection.streams.filter(stream => stream.protocol.endsWith('/stop')).length), 'circuits to one, per connection')
        .toSatisfy((circuits: number[]) => circuits.every(count => count < 2))
    }, within(10_000))
    expect(await dialOutcome(bob, circuitAddress(address, one.peerId))).toBe('open')
    for (const target of targets) expect(relay.node.services.relay.reservations.has(target.peerId)).toBe(true)
  }, 60_000)

  it('answers RESOURCE_LIMIT_EXCEEDED past the circuits opened from one IP', async () => {
    const { relay, address, hits } = await relayWith({ maxCircuitsPerIp: 2 })
    const [one, two] = await Promise.all([reservedTarget(relay, address), reservedTarget(relay, address)]) as [Libp2p, Libp2p]
    const first = await circuitNode(address, { reserve: false })
    const second = await circuitNode(address, { reserve: false })
    expect(await dialOutcome(first, circuitAddress(address, one.peerId))).toBe('open')
    expect(await dialOutcome(second, circuitAddress(address, one.peerId))).toBe('open')
    expect(await dialOutcome(second, circuitAddress(address, two.peerId))).toContain('RESOURCE_LIMIT_EXCEEDED')
    expect(await dialOutcome(first, circuitAddress(address, two.peerId))).toContain('RESOURCE_LIMIT_EXCEEDED')
    expect(hits).toEqual([{ limit: 'circuits-per-ip', max: 2, offender: LOCAL }])
    await first.hangUp(one.peerId)
    await vi.waitFor(() => {
      expect(relay.node.getConnections(first.peerId).flatMap(connection => connection.streams.map(stream => stream.protocol)), 'streams of the first one on the relay')
        .not.toContainEqual(expect.stringMatching(/\/hop$/))
    }, within(10_000))
    expect(await dialOutcome(second, circuitAddress(address, two.peerId))).toBe('open')
  }, 60_000)
})
