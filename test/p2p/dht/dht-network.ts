import { generateKeyPair } from '@libp2p/crypto/keys'
import { memory } from '@libp2p/memory'
import { MemoryDatastore } from 'datastore-core'
import { Record as Libp2pRecord } from '@libp2p/kad-dht'
import { vi } from 'vitest'
import { kadInternals, kadRecordKey } from '../../../src/p2p/dht/kad-internals.ts'
import { RecordHolding } from '../../../src/p2p/dht/record-holding.ts'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { createWebkadNode } from '../../../src/p2p/node.ts'
import { DhtOperations } from '../../../src/p2p/dht/dht-operations.ts'
import type { WebkadNode } from '../../../src/p2p/node.ts'
import type { RecordHoldingInit } from '../../../src/p2p/dht/record-holding.ts'
import type { PrivateKey } from '@libp2p/interface'

/** One in-process DHT node with its key and datastore, for reading what it stores. */
export interface TestDhtNode {
  node: WebkadNode
  privateKey: PrivateKey
  datastore: MemoryDatastore
  /** The record layer the node stores through (as a tab's). */
  holding: RecordHolding
  /** The raw record value this node stores for `key`, if any (read from its datastore). */
  storedValue(key: Uint8Array): Promise<Uint8Array | undefined>
  /** Writes a record straight into the datastore, bypassing validation (a lying holder). */
  injectValue(key: Uint8Array, value: Uint8Array): Promise<void>
  /** Deletes the stored record, as if this node had never received it. */
  forget(key: Uint8Array): Promise<void>
}

let networkCounter = 0

/**
 * Starts `count` real webkad nodes (createWebkadNode on the memory transport) and connects
 * every pair (unless `connect: false`), so the routing tables hold everyone and lookups are exact.
 */
export async function startDhtNetwork (count: number, kBucketSize: number, options: { connect?: boolean, holding?: Omit<RecordHoldingInit, 'self'> } = {}): Promise<TestDhtNode[]> {
  const network = ++networkCounter
  const nodes: TestDhtNode[] = []
  for (let index = 0; index < count; index++) {
    const privateKey = await generateKeyPair('Ed25519')
    const datastore = new MemoryDatastore()
    const holding = new RecordHolding(datastore, { ...options.holding, self: peerIdFromPrivateKey(privateKey) })
    const node = await createWebkadNode({
      privateKey,
      // The node sees the record layer, as in the app; tests inject lies underneath it.
      datastore: holding.datastore,
      listen: [`/memory/webkad-dht-${network}-${index}`],
      transports: [memory()],
      connectionMonitor: false,
      dht: { kBucketSize }
    })
    holding.attach(kadInternals(node.services.dht), () => node.getPeers())
    nodes.push({
      node,
      privateKey,
      datastore,
      holding,
      async storedValue (key) {
        try {
          return Libp2pRecord.deserialize(await datastore.get(kadRecordKey(key))).value
        } catch {
          return undefined
        }
      },
      async injectValue (key, value) {
        await datastore.put(kadRecordKey(key), new Libp2pRecord(key, value, new Date()).serialize())
      },
      async forget (key) {
        await datastore.delete(kadRecordKey(key))
      }
    })
  }
  if (options.connect === false) return nodes
  for (let a = 0; a < nodes.length; a++) {
    for (let b = a + 1; b < nodes.length; b++) {
      const target = nodes[b]?.node.getMultiaddrs()[0]
      if (target != null) await nodes[a]?.node.dial(target)
    }
  }
  // Routing tables fill asynchronously after identify: wait until every node knows the others.
  await vi.waitFor(() => {
    if (nodes.some(({ node }) => kadInternals(node.services.dht).routingTable.size < Math.min(count - 1, kBucketSize))) throw new Error('routing tables did not fill')
  }, { timeout: 15_000, interval: 50 })
  return nodes
}

export async function stopDhtNetwork (nodes: TestDhtNode[]): Promise<void> {
  await Promise.all(nodes.map(async ({ node }) => { await node.stop() }))
}

/** webkad's DHT operations on one test node. */
export function operationsFor (peer: TestDhtNode): DhtOperations {
  return new DhtOperations(peer.node, peer.privateKey)
}
