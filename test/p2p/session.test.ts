import { generateKeyPair } from '@libp2p/crypto/keys'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { startRelay } from '../../relay/relay-node.ts'
import { LAST_BOOTNODES_KEY, WebkadSession } from '../../src/p2p/session.ts'
import { tempDirs, testRelayConfig } from '../relay/helpers.ts'
import type { Relay } from '../../relay/relay-node.ts'
import type { NodeStatus } from '../../src/p2p/session.ts'

/**
 * WebkadSession in Node against a real in-process relay: the facade the UI drives. WebRTC is
 * off except where a test needs it (node-datachannel gives Node a real RTCPeerConnection).
 */
const dirs = tempDirs()
let relay: Relay
let bootnode: string
const sessions: WebkadSession[] = []

beforeAll(async () => {
  relay = await startRelay(testRelayConfig(await dirs.make()))
  bootnode = relay.node.getMultiaddrs()[0]!.toString()
})

afterEach(async () => {
  await Promise.all(sessions.splice(0).map(async session => { await session.disconnect() }))
})

afterAll(async () => {
  await relay.stop()
  await dirs.cleanup()
})

function memoryStorage (): Storage {
  const items = new Map<string, string>()
  return {
    get length () { return items.size },
    clear: () => { items.clear() },
    getItem: (key) => items.get(key) ?? null,
    key: (index) => [...items.keys()][index] ?? null,
    removeItem: (key) => { items.delete(key) },
    setItem: (key, value) => { items.set(key, value) }
  }
}

async function newSession (options: { scheduler?: boolean, storage?: Storage, webrtc?: boolean } = {}): Promise<WebkadSession> {
  const session = new WebkadSession({ privateKey: await generateKeyPair('Ed25519'), identitySource: 'created', webrtc: options.webrtc ?? false, iceServers: [], scheduler: options.scheduler ?? false, storage: options.storage })
  sessions.push(session)
  return session
}

function statusesOf (session: WebkadSession): NodeStatus[] {
  const seen: NodeStatus[] = [session.state.getSnapshot().status]
  session.state.subscribe(() => {
    const status = session.state.getSnapshot().status
    if (seen.at(-1) !== status) seen.push(status)
  })
  return seen
}

describe('WebkadSession', () => {
  it('connects: offline → connecting → online, reserved on the relay, with timings and remembered bootnodes', async () => {
    const storage = memoryStorage()
    const session = await newSession({ storage })
    const statuses = statusesOf(session)
    await session.connect(bootnode)
    const state = session.state.getSnapshot()
    expect(statuses).toEqual(['offline', 'connecting', 'online'])
    expect(state.relayPeerId).toBe(relay.node.peerId.toString())
    expect(state.listenAddrs.some(address => address.includes('/p2p-circuit'))).toBe(true)
    expect(state.timings.relayConnectedMs).toBeGreaterThan(0)
    expect(state.timings.reservationMs).toBeGreaterThanOrEqual(state.timings.relayConnectedMs ?? 0)
    // Online means the DHT is ready: the relay is in the routing table and the first self-query ran.
    expect(state.timings.dhtReadyMs).toBeGreaterThanOrEqual(state.timings.reservationMs ?? 0)
    expect(session.kad?.routingTablePeers().map(contact => contact.peerId.toString())).toContain(relay.node.peerId.toString())
    expect(relay.node.services.relay.reservations.has(session.peerId)).toBe(true)
    expect(storage.getItem(LAST_BOOTNODES_KEY)).toBe(bootnode)
    expect(session.connections.getSnapshot().map(row => row.remotePeer)).toContain(relay.node.peerId.toString())

    await session.disconnectByUser()
    expect(session.state.getSnapshot()).toMatchObject({ status: 'offline', listenAddrs: [] })
    expect(session.connections.getSnapshot()).toEqual([])
    expect(session.node).toBeUndefined()
    expect(storage.getItem(LAST_BOOTNODES_KEY)).toBeNull()
  })

  it('refuses unusable bootnode text before touching the network, and names an unreachable relay', async () => {
    const session = await newSession()
    await expect(session.connect('not a multiaddr')).rejects.toMatchObject({ name: 'InvalidMultiaddrError' })
    expect(session.node).toBeUndefined()
    const closedPort = bootnode.replace(/\/tcp\/\d+\//, '/tcp/1/')
    await expect(session.connect(closedPort)).rejects.toMatchObject({ name: 'BootnodeUnreachableError' })
    expect(session.state.getSnapshot().status).toBe('offline')
    expect(session.node).toBeUndefined()
    await expect(session.findPeer(relay.node.peerId.toString())).rejects.toMatchObject({ name: 'NotConnectedError' })
  })

  it('finds a peer on the first try right after Online, puts and gets a record, each traced in the query log', async () => {
    const [a, b] = [await newSession(), await newSession()]
    await b.connect(bootnode)
    await a.connect(bootnode)
    const found = await a.findPeer(b.peerId.toString())
    expect(found.peerId).toBe(b.peerId.toString())
    expect(found.addresses.some(address => address.includes('/p2p-circuit'))).toBe(true)

    const put = await a.put('session-test', { type: 'text', text: 'through the facade' })
    expect(put.accepted.length).toBeGreaterThan(0)
    const got = await b.get('session-test')
    expect(got.record.payload).toEqual({ type: 'text', text: 'through the facade' })
    expect(a.authored.getSnapshot().map(record => record.key)).toEqual(['/webkad/session-test'])

    const traces = a.queries.getSnapshot()
    for (const id of [found.queryId, put.queryId]) expect(traces.find(trace => trace.id === id)).toMatchObject({ status: 'done' })
    expect(traces.some(trace => trace.label === '/webkad/session-test (read before Put)')).toBe(true)
    expect(b.queries.getSnapshot().find(trace => trace.id === got.queryId)?.events.length).toBeGreaterThan(0)
    expect(a.routingTable.getSnapshot().size).toBeGreaterThan(0)
  })

  it('keeps its stores across reconnects: the same store objects follow the new node', async () => {
    const session = await newSession({ scheduler: true })
    const { routingTable, tasks, connections } = session
    await session.connect(bootnode)
    await vi.waitFor(() => { expect(routingTable.getSnapshot().size).toBeGreaterThan(0) }, { timeout: 10_000 })
    expect(tasks.getSnapshot().map(task => task.id)).toContain('relay-reservation')
    await session.disconnect()
    expect(routingTable.getSnapshot().size).toBe(0)
    expect(tasks.getSnapshot()).toEqual([])
    await session.connect(bootnode)
    expect(connections.getSnapshot().length).toBeGreaterThan(0)
    expect(tasks.getSnapshot().length).toBeGreaterThan(0)
  })

  it('shows relay-lost when the relay goes, and the reservation task says so', async () => {
    const dir = await dirs.make()
    const ownRelay = await startRelay(testRelayConfig(dir))
    const session = await newSession({ scheduler: true })
    try {
      await session.connect(ownRelay.node.getMultiaddrs()[0]!.toString())
      const statuses = statusesOf(session)
      await ownRelay.stop()
      await vi.waitFor(() => { expect(session.state.getSnapshot().status).toBe('relay-lost') }, { timeout: 10_000 })
      const run = await session.runTaskNow('relay-reservation')
      expect(run?.lastSummary).toMatch(/no relay reachable/)
      expect(statuses).toEqual(['online', 'relay-lost'])
    } finally {
      await session.disconnect()
    }
  })

  it('a direct dial to a peer with no relayed address fails with DirectDialFailedError', async () => {
    const session = await newSession()
    await session.connect(bootnode)
    // The relay itself: it has a WebSocket address but no circuit or WebRTC address to signal through.
    await expect(session.dialDirect(relay.node.peerId.toString())).rejects.toMatchObject({ name: 'DirectDialFailedError' })
  })

  it('opens a direct WebRTC connection signalled through the relay, then reuses it', async () => {
    const [a, b] = [await newSession({ webrtc: true }), await newSession({ webrtc: true })]
    await Promise.all([a.connect(bootnode), b.connect(bootnode)])
    const opened = await a.dialDirect(b.peerId.toString())
    expect(opened).toMatchObject({ peerId: b.peerId.toString(), reused: false })
    expect(opened.attempts).toBeGreaterThanOrEqual(1)
    expect(opened.remoteAddr).toMatch(/\/p2p-circuit\/webrtc\//)
    expect(a.connections.getSnapshot().some(row => row.remotePeer === b.peerId.toString() && row.transport === 'webrtc')).toBe(true)
    expect(await a.dialDirect(b.peerId.toString())).toMatchObject({ reused: true, attempts: 0 })
    expect((await a.ping(b.peerId.toString())).rttMs).toBeGreaterThanOrEqual(0)
  }, 60_000)
})
