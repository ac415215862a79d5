import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { kadInternals } from '../../../src/p2p/dht/kad-internals.ts'
import { createNetworkTasks, offerDirectPeersMissingFromTable, TASK_INTERVALS } from '../../../src/p2p/scheduler/network-tasks.ts'
import { operationsFor, startDhtNetwork, stopDhtNetwork } from '../dht/dht-network.ts'
import type { NetworkTaskContext } from '../../../src/p2p/scheduler/network-tasks.ts'
import type { TestDhtNode } from '../dht/dht-network.ts'

async function waitFor (what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

describe('auto-dial keeps directly connected DHT peers in the routing table', () => {
  let nodes: TestDhtNode[]

  beforeAll(async () => { nodes = await startDhtNetwork(3, 20) }, 60_000)
  afterAll(async () => { await stopDhtNetwork(nodes) })

  it('offers a connected peer that fell out of the k-buckets again, and only that one', async () => {
    const [a, b, c] = nodes as [TestDhtNode, TestDhtNode, TestDhtNode]
    const kad = kadInternals(a.node.services.dht)
    const inTable = (peer: TestDhtNode): boolean => kad.routingTablePeers().some(contact => contact.peerId.equals(peer.node.peerId))
    await waitFor('b and c in a\'s table', () => inTable(b) && inTable(c))
    // What a failed ping of a new contact leaves behind: connected, yet not in a bucket.
    await kad.routingTable.remove(b.node.peerId)
    expect(a.node.getConnections(b.node.peerId).length).toBeGreaterThan(0)
    expect(inTable(b)).toBe(false)

    // c is connected and already in the table: left alone.
    const direct = new Set([b.node.peerId.toString(), c.node.peerId.toString()])
    const offered = await offerDirectPeersMissingFromTable(a.node, kad, direct, AbortSignal.timeout(5000))
    expect(offered).toBe(1)
    await waitFor('b back in a\'s table', () => inTable(b))
    expect(await offerDirectPeersMissingFromTable(a.node, kad, direct, AbortSignal.timeout(5000))).toBe(0)
  })
})

describe('random walk of a tab with too few direct connections', () => {
  let nodes: TestDhtNode[]

  beforeAll(async () => { nodes = await startDhtNetwork(3, 20) }, 60_000)
  afterAll(async () => { await stopDhtNetwork(nodes) })

  it('walks again in 5 s, doubling up to its interval: a peer whose dial failed in a lookup is met again soon', async () => {
    const a = nodes[0] as TestDhtNode
    // The random walk reads only these; the memory transport gives the node no WebRTC connection.
    const context = { node: a.node, dht: operationsFor(a), kad: kadInternals(a.node.services.dht), trace: () => () => {} } as unknown as NetworkTaskContext
    const walk = createNetworkTasks(context).find(task => task.id === 'random-walk')
    expect(walk?.intervalMs).toBe(TASK_INTERVALS.randomWalk)
    const delays: Array<number | undefined> = []
    for (let run = 0; run < 4; run++) {
      const outcome = await walk!.run(AbortSignal.timeout(10_000))
      expect(outcome.summary).toMatch(/close peer\(s\) found; routing table \d+ → \d+; 0 direct connection\(s\), walking again in \d+ s/)
      delays.push(outcome.nextRunInMs)
    }
    expect(delays).toEqual([5_000, 10_000, 20_000, TASK_INTERVALS.randomWalk])
  })
})
