import { afterEach, describe, expect, it, vi } from 'vitest'
import { startRelay } from '../../../relay/relay-node.ts'
import { DHT_PROTOCOL } from '../../../src/p2p/constants.ts'
import { KadWire } from '../../../src/p2p/crawl/kad-wire.ts'
import { canAwaitIdentifyPush } from '../../../src/p2p/network/announce-addresses.ts'
import { RelayConnection, waitForReservation } from '../../../src/p2p/network/relay-connection.ts'
import { createWebkadNode } from '../../../src/p2p/node.ts'
import { tempDirs, testRelayConfig } from '../../relay/helpers.ts'
import type { Relay } from '../../../relay/relay-node.ts'
import type { WebkadNode } from '../../../src/p2p/node.ts'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'

const dirs = tempDirs()
const relays: Relay[] = []
const nodes: WebkadNode[] = []

afterEach(async () => {
  await Promise.all(nodes.splice(0).map(async node => { await node.stop() }))
  await Promise.all(relays.splice(0).map(async relay => { await relay.stop() }))
  await dirs.cleanup()
})

async function relayIn (dataDir: string, wsPort = 0): Promise<{ relay: Relay, address: Multiaddr }> {
  const relay = await startRelay({ ...testRelayConfig(dataDir), wsPort })
  relays.push(relay)
  return { relay, address: relay.node.getMultiaddrs()[0]! }
}

async function tabNode (bootnode: Multiaddr): Promise<WebkadNode> {
  const node = await createWebkadNode({ webrtc: false, bootnodes: [bootnode], connectionMonitor: false })
  nodes.push(node)
  return node
}

/** The same relay address on port 1, where nothing listens. */
function closedPortOf (address: Multiaddr): Multiaddr {
  return multiaddr(address.toString().replace(/\/tcp\/\d+\//, '/tcp/1/'))
}

function connectionFor (node: WebkadNode): RelayConnection {
  return new RelayConnection({ peerId: node.peerId, identitySource: 'created' })
}

describe('RelayConnection', () => {
  it('dials the first reachable bootnode, skipping dead ones, and is online once reserved', async () => {
    const { relay, address } = await relayIn(await dirs.make())
    const node = await tabNode(address)
    const connection = connectionFor(node)
    connection.begin([closedPortOf(address), address])
    expect(connection.state.getSnapshot().status).toBe('connecting')
    await connection.connect(node)
    expect(connection.state.getSnapshot()).toMatchObject({ status: 'online', relayPeerId: relay.node.peerId.toString() })
    expect(await connection.ensureReserved(AbortSignal.timeout(5_000))).toEqual({ reserved: true, relayPeerId: relay.node.peerId.toString(), redialed: false })
    connection.detach()
    expect(connection.state.getSnapshot()).toMatchObject({ status: 'offline', listenAddrs: [] })
  })

  it('is Online only once the relay can hand it out: another peer\'s FIND_NODE at that moment returns it with a relayed address', async () => {
    const { relay, address } = await relayIn(await dirs.make())
    const asker = await tabNode(address)
    await asker.dial(address)
    const node = await tabNode(address)
    expect(canAwaitIdentifyPush(node.services.identifyPush), 'identify-push still has the method announceAddresses awaits').toBe(true)
    const connection = connectionFor(node)
    connection.begin([address])
    await connection.connect(node)
    // Asked the moment connect resolves, as a second tab's first Find peer does. The relay answers
    // only with peers in its routing table (added once it knows their protocols, from its identify
    // or from the push connect awaits).
    const stream = await asker.dialProtocol(relay.node.peerId, DHT_PROTOCOL)
    const wire = new KadWire(stream)
    const answer = await wire.findNode(node.peerId.toMultihash().bytes, { maxPeers: 20, signal: AbortSignal.timeout(5_000) })
    await wire.close()
    const found = answer.peers.find(peer => peer.peerId.equals(node.peerId))
    expect(found, 'the relay returned the tab').toBeDefined()
    expect(found?.addresses.map(String).filter(addr => addr.includes('/p2p-circuit')).length, 'relayed addresses the relay returned').toBeGreaterThan(0)
  })

  it('names every unreachable bootnode', async () => {
    const { address } = await relayIn(await dirs.make())
    const node = await tabNode(address)
    const connection = connectionFor(node)
    connection.begin([closedPortOf(address)])
    await expect(connection.connect(node)).rejects.toMatchObject({ name: 'BootnodeUnreachableError', message: expect.stringContaining('/tcp/1/') })
  })

  it('after the relay restarts on its port and key, ensureReserved marks it lost, redials and is online again', async () => {
    const dataDir = await dirs.make()
    const first = await relayIn(dataDir)
    const port = Number(/\/tcp\/(\d+)\//.exec(first.address.toString())?.[1])
    const node = await tabNode(first.address)
    const connection = connectionFor(node)
    connection.begin([first.address])
    await connection.connect(node)
    await first.relay.stop()
    relays.splice(relays.indexOf(first.relay), 1)
    expect(await connection.ensureReserved(AbortSignal.timeout(5_000))).toEqual({ reserved: false })
    expect(connection.state.getSnapshot().status).toBe('relay-lost')

    const second = await relayIn(dataDir, port)
    expect(second.relay.node.peerId.equals(first.relay.node.peerId)).toBe(true)
    // As the scheduler's task does: check again until reserved. A check may fail when its dial
    // joins libp2p's own reconnect to the relay, started while it was down; or that reconnect
    // may have re-reserved first (then no redial was needed).
    const check = await vi.waitFor(async () => {
      const result = await connection.ensureReserved(AbortSignal.timeout(5_000))
      if (!result.reserved) throw new Error('not reserved yet')
      return result
    }, { timeout: 15_000, interval: 200 })
    expect(check).toMatchObject({ reserved: true, relayPeerId: second.relay.node.peerId.toString() })
    expect(connection.state.getSnapshot().status).toBe('online')
  })

  it('waitForReservation rejects with the signal\'s reason when it aborts first', async () => {
    const { address } = await relayIn(await dirs.make())
    const node = await tabNode(address)
    const controller = new AbortController()
    const waiting = waitForReservation(node, controller.signal)
    controller.abort(new Error('gave up'))
    await expect(waiting).rejects.toThrow('gave up')
  })
})
