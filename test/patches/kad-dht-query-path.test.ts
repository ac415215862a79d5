/**
 * kad-dht's lookup queries every peer it hears of that can still enter the k closest that answered
 * (patches/@libp2p+kad-dht+16.4.5.patch, query/query-path.js), as go-libp2p-kad-dht does.
 * Unpatched, a peer named in an answer was skipped unless it was closer to the key than the peer
 * that named it: a newly joined node among the k closest, known only to a nearer node, was never
 * asked, so replication and Put missed it (issue #12's replacement churn). Fails unpatched.
 */
import { lpStream } from '@libp2p/utils'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { DHT_PROTOCOL } from '../../src/p2p/constants.ts'
import { kadInternals } from '../../src/p2p/dht/kad-internals.ts'
import { compareDistances, kadIdOfKey, kadIdOfPeer, xorDistance } from '../../src/p2p/dht/kad-math.ts'
import { startMemoryNode } from '../helpers/nodes.ts'
import { Message, MessageType } from '../helpers/pb/dht.ts'
import { within } from '../helpers/wait.ts'
import type { WebkadNode } from '../../src/p2p/node.ts'
import type { PeerInfo } from '../helpers/pb/dht.ts'

let nodes: WebkadNode[] = []
afterEach(async () => {
  await Promise.all(nodes.map(async node => { await node.stop() }))
  nodes = []
})

/** Replaces a node's DHT handler: FIND_NODE for `key` gets `closer()`, anything else an empty answer; records the keys asked. */
async function answerFindNode (node: WebkadNode, key: Uint8Array, closer: () => PeerInfo[], asked: Uint8Array[]): Promise<void> {
  await node.handle(DHT_PROTOCOL, async (stream) => {
    const lp = lpStream(stream)
    try {
      for (;;) {
        const request = Message.decode(await lp.read())
        const requestKey = request.key ?? new Uint8Array()
        if (request.type === MessageType.FIND_NODE) asked.push(requestKey)
        const matches = request.type === MessageType.FIND_NODE && requestKey.length === key.length && requestKey.every((byte, index) => byte === key[index])
        await lp.write(Message.encode({ type: request.type, closer: matches ? closer() : [], providers: [] }))
      }
    } catch {
      stream.abort(new Error('done'))
    }
  }, { force: true, maxInboundStreams: 64 })
}

/** A random key that is closer to `near` than to `far`. */
function keyCloserTo (near: WebkadNode, far: WebkadNode): Uint8Array {
  for (;;) {
    const key = crypto.getRandomValues(new Uint8Array(32))
    const target = kadIdOfKey(key)
    if (compareDistances(xorDistance(kadIdOfPeer(near.peerId), target), xorDistance(kadIdOfPeer(far.peerId), target)) < 0) return key
  }
}

const same = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((byte, index) => byte === b[index])

describe('kad-dht lookup (patched query path)', () => {
  it('asks a peer among the k closest even when it is farther from the key than the peer that named it', async () => {
    const asker = await startMemoryNode({ name: 'query-path-asker' })
    const near = await startMemoryNode({ name: 'query-path-near' })
    const newcomer = await startMemoryNode({ name: 'query-path-newcomer' })
    nodes = [asker, near, newcomer]
    const key = keyCloserTo(near, newcomer)
    const askedNear: Uint8Array[] = []
    const askedNewcomer: Uint8Array[] = []
    // The near node knows the newcomer (it names it for this key); the asker knows only the near node.
    await answerFindNode(near, key, () => [{ id: newcomer.peerId.toMultihash().bytes, multiaddrs: newcomer.getMultiaddrs().map(address => address.bytes) }], askedNear)
    await answerFindNode(newcomer, key, () => [], askedNewcomer)
    await asker.dial(near.getMultiaddrs()[0]!)
    const table = kadInternals(asker.services.dht).routingTable
    await vi.waitFor(() => { expect(table.size, 'the near node in the asker\'s table').toBe(1) }, within(10_000))
    expect(kadInternals(asker.services.dht).routingTablePeers().map(contact => contact.peerId.toString())).toEqual([near.peerId.toString()])

    const closest: string[] = []
    for await (const event of asker.services.dht.getClosestPeers(key, { signal: AbortSignal.timeout(10_000) })) {
      if (event.name === 'FINAL_PEER') closest.push(event.peer.id.toString())
    }
    expect(askedNear.some(asked => same(asked, key))).toBe(true)
    // Unpatched: the newcomer is farther from the key than the near node, so it was never asked.
    expect(askedNewcomer.some(asked => same(asked, key)), 'the newcomer was asked for the key').toBe(true)
    expect(closest.sort()).toEqual([near.peerId.toString(), newcomer.peerId.toString()].sort())
  }, 30_000)
})
