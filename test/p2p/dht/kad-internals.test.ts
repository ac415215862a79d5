import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { fromString } from 'uint8arrays'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { DHT_PROTOCOL } from '../../../src/p2p/constants.ts'
import { KadInternalsChangedError } from '../../../src/p2p/errors.ts'
import { kadInternals } from '../../../src/p2p/dht/kad-internals.ts'
import { createSignedRecord } from '../../../src/p2p/dht/records.ts'
import { startMemoryNode } from '../../helpers/nodes.ts'
import { within } from '../../helpers/wait.ts'
import type { WebkadNode } from '../../../src/p2p/node.ts'
import type { PeerId } from '@libp2p/interface'
import type { KadDHT } from '@libp2p/kad-dht'

type DhtNode = WebkadNode

const nodes: DhtNode[] = []

afterEach(async () => {
  await Promise.all(nodes.splice(0).map(async node => { await node.stop() }))
})

/** A webkad node (createWebkadNode, webkad's DHT as it ships) on the in-memory transport. */
async function dhtNode (): Promise<DhtNode> {
  const node = await startMemoryNode({ name: 'kad-internals' })
  nodes.push(node)
  return node
}

/** Waits until `node`'s routing table holds `size` contacts. */
async function tableSize (node: DhtNode, size: number): Promise<void> {
  await vi.waitFor(() => { expect(kadInternals(node.services.dht).routingTable.size, `routing table of ${node.peerId.toString()}`).toBe(size) }, within(5000))
}

describe('kadInternals on a real @libp2p/kad-dht', () => {
  it('finds the routing table and onPeerConnect', async () => {
    const node = await dhtNode()
    const internals = kadInternals(node.services.dht)
    expect(typeof internals.routingTable.size).toBe('number')
    expect(internals.routingTable.size).toBe(0)
    expect(internals.routingTable.kBucketSize).toBeGreaterThan(0)
    expect(typeof internals.routingTable.remove).toBe('function')
    expect(typeof internals.routingTable.addEventListener).toBe('function')
    expect(typeof internals.routingTable.removeEventListener).toBe('function')
    expect(typeof internals.onPeerConnect).toBe('function')
    expect(internals.routingTablePeers()).toEqual([])
  })

  it('speaks webkad\'s DHT protocol, not the public IPFS one', async () => {
    const node = await dhtNode()
    expect(node.getProtocols()).toContain(DHT_PROTOCOL)
    expect(node.getProtocols()).not.toContain('/ipfs/kad/1.0.0')
  })

  it('reports peers, their events, removal and re-adding through the adapter', async () => {
    const a = await dhtNode()
    const b = await dhtNode()
    const internals = kadInternals(a.services.dht)
    const added: PeerId[] = []
    const removed: PeerId[] = []
    internals.routingTable.addEventListener('peer:add', (event) => { added.push(event.detail) })
    internals.routingTable.addEventListener('peer:remove', (event) => { removed.push(event.detail) })

    await a.dial(b.getMultiaddrs()[0]!)
    await tableSize(a, 1)
    expect(added.map(String)).toEqual([b.peerId.toString()])
    const contacts = internals.routingTablePeers()
    expect(contacts.map(contact => contact.peerId.toString())).toEqual([b.peerId.toString()])
    expect(contacts[0]?.kadId).toBeInstanceOf(Uint8Array)
    expect(typeof contacts[0]?.lastPing).toBe('number')

    await internals.routingTable.remove(b.peerId)
    expect(internals.routingTable.size).toBe(0)
    expect(removed.map(String)).toEqual([b.peerId.toString()])

    await internals.onPeerConnect({ id: b.peerId, multiaddrs: b.getMultiaddrs() })
    await tableSize(a, 1)
    expect(internals.routingTablePeers().map(contact => contact.peerId.toString())).toEqual([b.peerId.toString()])
  })

  it('puts a record on one chosen peer with putValueTo', async () => {
    const a = await dhtNode()
    const b = await dhtNode()
    await a.dial(b.getMultiaddrs()[0]!)
    const internals = kadInternals(a.services.dht)
    await tableSize(a, 1)
    const author = await generateKeyPair('Ed25519')
    const key = fromString('/webkad/put-value-to')
    const value = await createSignedRecord(author, peerIdFromPrivateKey(author), { key: '/webkad/put-value-to', payload: { type: 'text', text: 'hi' }, sequence: 1n })
    expect(await internals.putValueTo(b.peerId, key, value, { signal: AbortSignal.timeout(5000) })).toBe(true)
    // b's validator refuses what is not a signed webkad record.
    expect(await internals.putValueTo(b.peerId, key, fromString('unsigned'), { signal: AbortSignal.timeout(5000) })).toBe(false)
  })

  it('stores a record locally where kad-dht serves it from, for its own Get and for other peers', async () => {
    const a = await dhtNode()
    const b = await dhtNode()
    await a.dial(b.getMultiaddrs()[0]!)
    await tableSize(b, 1)
    const author = await generateKeyPair('Ed25519')
    const key = fromString('/webkad/stored-locally')
    const value = await createSignedRecord(author, peerIdFromPrivateKey(author), { key: '/webkad/stored-locally', payload: { type: 'text', text: 'here' }, sequence: 1n })
    await kadInternals(a.services.dht).storeLocally(key, value, { signal: AbortSignal.timeout(5000) })
    const valuesFrom = async (node: DhtNode): Promise<Array<{ from: string, value: Uint8Array }>> => {
      const found: Array<{ from: string, value: Uint8Array }> = []
      for await (const event of node.services.dht.get(key, { signal: AbortSignal.timeout(5000) })) {
        if (event.name === 'VALUE') found.push({ from: event.from.toString(), value: event.value })
      }
      return found
    }
    expect(await valuesFrom(a)).toEqual([{ from: a.peerId.toString(), value }])
    expect(await valuesFrom(b)).toEqual([{ from: a.peerId.toString(), value }])
  })

  it('releaseQueryHold lets a query run before kad-dht\'s first self-query has', async () => {
    // A self-query that will not run during the test: kad-dht holds every other query for it.
    const [a, b] = await Promise.all([1, 2].map(async () => {
      const node = await startMemoryNode({ name: 'kad-hold', dht: { initialQuerySelfInterval: 60_000 } })
      nodes.push(node)
      return node
    }))
    await a!.dial(b!.getMultiaddrs()[0]!)
    await tableSize(a!, 1)
    const lookup = async (): Promise<number> => {
      let peers = 0
      for await (const event of a!.services.dht.getClosestPeers(new Uint8Array(32), { signal: AbortSignal.timeout(1_000) })) if (event.name === 'FINAL_PEER') peers++
      return peers
    }
    await expect(lookup(), 'held for the self-query').rejects.toThrow()
    kadInternals(a!.services.dht).releaseQueryHold()
    expect(await lookup()).toBe(1)
  })

  it('skipPingBeforeAdd still keeps the node itself out of its table (a lookup of its own ID is answered with it)', async () => {
    const [a, b] = [await dhtNode(), await dhtNode()]
    kadInternals(a.services.dht).skipPingBeforeAdd()
    await a.dial(b.getMultiaddrs()[0]!)
    await tableSize(a, 1)
    // b answers FIND_NODE(a's ID) with a's own record; kad-dht offers every named peer to a's table.
    let namedSelf = false
    for await (const event of a.services.dht.getClosestPeers(a.peerId.toMultihash().bytes, { signal: AbortSignal.timeout(5_000) })) {
      if (event.name === 'PEER_RESPONSE' && event.closer.some(peer => peer.id.equals(a.peerId))) namedSelf = true
    }
    expect(namedSelf, 'b named a to itself').toBe(true)
    // Any queued table update for it has run by the time a second, plain lookup ends.
    for await (const event of a.services.dht.getClosestPeers(new Uint8Array(32), { signal: AbortSignal.timeout(5_000) })) void event
    expect(kadInternals(a.services.dht).routingTablePeers().map(contact => contact.peerId.toString())).toEqual([b.peerId.toString()])
  })

  it('throws KadInternalsChangedError for something that is not kad-dht', () => {
    for (const fake of [{}, { routingTable: {} }, { onPeerConnect: () => {}, routingTable: { size: 0 } }]) {
      let err: unknown
      try {
        kadInternals(fake as unknown as KadDHT)
      } catch (caught) {
        err = caught
      }
      expect(err).toBeInstanceOf(KadInternalsChangedError)
      expect((err as Error).name).toBe('KadInternalsChangedError')
    }
  })
})
