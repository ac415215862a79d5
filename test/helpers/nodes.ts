import { memory } from '@libp2p/memory'
import { createWebkadNode } from '../../src/p2p/node.ts'
import type { WebkadNode, WebkadNodeInit } from '../../src/p2p/node.ts'
import type { KadDHTInit } from '@libp2p/kad-dht'

let counter = 0

/**
 * A webkad node (createWebkadNode: the services a tab runs) on the in-memory transport, with a
 * fresh /memory address and, as in the simulation, no connection monitor. `name` only shows in
 * the address, to tell nodes apart in logs.
 */
export async function startMemoryNode (init: Omit<WebkadNodeInit, 'transports' | 'listen'> & { name?: string } = {}): Promise<WebkadNode> {
  const { name = 'test', ...rest } = init
  return await createWebkadNode({
    transports: [memory()],
    listen: [`/memory/webkad-${name}-${process.pid}-${++counter}`],
    connectionMonitor: false,
    ...rest
  })
}

/**
 * DHT settings for a node that must only do what its test says (a hostile peer driving a
 * protocol by hand): it serves no DHT requests, so no one adds it to a routing table, and it
 * adds no contact itself (each is mapped to no address), so its DHT never pings, dials or opens
 * a circuit on its own. Everything else is what ships.
 */
export const QUIET_DHT: Partial<KadDHTInit> = {
  clientMode: true,
  peerInfoMapper: (peer) => ({ ...peer, multiaddrs: [] })
}
