import { memory } from '@libp2p/memory'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { DHT_PROTOCOL } from '../../src/p2p/constants.ts'
import { CHAT_PROTOCOL } from '../../src/p2p/services/chat/index.ts'
import { createWebkadNode } from '../../src/p2p/node.ts'
import type { WebkadNode, WebkadNodeInit } from '../../src/p2p/node.ts'

/** createWebkadNode's tuning, checked on real nodes rather than only end to end in the browser. */
const nodes: WebkadNode[] = []
let counter = 0

afterEach(async () => {
  await Promise.all(nodes.splice(0).map(async node => { await node.stop() }))
})

async function memoryNode (init: WebkadNodeInit = {}): Promise<WebkadNode> {
  const node = await createWebkadNode({ transports: [memory()], listen: [`/memory/node-test-${process.pid}-${++counter}`], ...init })
  nodes.push(node)
  return node
}

describe('createWebkadNode', () => {
  it('refuses replacement transports without listen addresses', async () => {
    await expect(createWebkadNode({ transports: [memory()] })).rejects.toThrow(TypeError)
  })

  it('runs webkad\'s DHT as a server on its own protocol, and the chat service', async () => {
    const node = await memoryNode({ connectionMonitor: false })
    expect(node.getProtocols()).toEqual(expect.arrayContaining([DHT_PROTOCOL, CHAT_PROTOCOL]))
    expect(node.getProtocols()).not.toContain('/ipfs/kad/1.0.0')
  })

  it('accepts and opens several pings at once on one connection (the monitor and kad-dht both ping)', async () => {
    const [a, b] = [await memoryNode({ connectionMonitor: false }), await memoryNode({ connectionMonitor: false })]
    await a.dial(b.getMultiaddrs()[0]!)
    // libp2p's defaults (1 outbound, 2 inbound ping streams) refuse the second or third of these.
    const rtts = await Promise.all([1, 2, 3, 4].map(async () => await a.services.ping.ping(b.peerId, { signal: AbortSignal.timeout(5_000) })))
    expect(rtts).toHaveLength(4)
  })

  it('heartbeats every connection (connection monitor on by default), so a silent peer is noticed', async () => {
    const [a, b] = [await memoryNode(), await memoryNode({ connectionMonitor: false })]
    const connection = await a.dial(b.getMultiaddrs()[0]!)
    expect(connection.rtt).toBeUndefined()
    // The monitor pings every 3 s; libp2p's default interval is 10 s.
    await vi.waitFor(() => { expect(connection.rtt).toBeTypeOf('number') }, { timeout: 6_000, interval: 100 })
  })

  it('takes the DHT overrides tests and the simulation need', async () => {
    const node = await memoryNode({ connectionMonitor: false, dht: { kBucketSize: 3 } })
    const { kadInternals } = await import('../../src/p2p/dht/kad-internals.ts')
    expect(kadInternals(node.services.dht).routingTable.kBucketSize).toBe(3)
  })
})
