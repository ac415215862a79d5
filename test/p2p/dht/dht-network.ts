import { generateKeyPair } from '@libp2p/crypto/keys'
import { identify, identifyPush } from '@libp2p/identify'
import { memory } from '@libp2p/memory'
import { noise } from '@libp2p/noise'
import { ping } from '@libp2p/ping'
import { yamux } from '@libp2p/yamux'
import { Key } from 'interface-datastore'
import { MemoryDatastore } from 'datastore-core'
import { Record as Libp2pRecord } from '@libp2p/kad-dht'
import { createLibp2p } from 'libp2p'
import { toString } from 'uint8arrays'
import { webkadDHT } from '../../../src/p2p/dht/dht-config.ts'
import { guardRecords } from '../../../src/p2p/dht/record-guard.ts'
import type { WebkadNode } from '../../../src/p2p/node.ts'
import type { PrivateKey } from '@libp2p/interface'

/** One in-process DHT node with its key and datastore, for reading what it stores. */
export interface TestDhtNode {
  node: WebkadNode
  privateKey: PrivateKey
  datastore: MemoryDatastore
  /** The raw record value this node stores for `key`, if any (read from its datastore). */
  storedValue(key: Uint8Array): Promise<Uint8Array | undefined>
  /** Writes a record straight into the datastore, bypassing validation (a lying holder). */
  injectValue(key: Uint8Array, value: Uint8Array): Promise<void>
  /** Deletes the stored record, as if this node had never received it. */
  forget(key: Uint8Array): Promise<void>
}

let networkCounter = 0

function recordKey (key: Uint8Array): Key {
  // kad-dht's layout: /dht/record/<base32 key> (datastorePrefix '/dht').
  return new Key(`/dht/record/${toString(key, 'base32')}`, false)
}

/**
 * Starts `count` real libp2p nodes (memory transport, noise, yamux, webkad's DHT) and connects
 * every pair, so the routing tables hold everyone and lookups are exact.
 */
export async function startDhtNetwork (count: number, kBucketSize: number): Promise<TestDhtNode[]> {
  const network = ++networkCounter
  const nodes: TestDhtNode[] = []
  for (let index = 0; index < count; index++) {
    const privateKey = await generateKeyPair('Ed25519')
    const datastore = new MemoryDatastore()
    const node = await createLibp2p({
      privateKey,
      // The node sees the guarded store, as in the app; tests inject lies underneath it.
      datastore: guardRecords(datastore),
      addresses: { listen: [`/memory/webkad-dht-${network}-${index}`] },
      transports: [memory()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionMonitor: { enabled: false },
      services: {
        identify: identify(),
        identifyPush: identifyPush(),
        ping: ping(),
        dht: webkadDHT({ kBucketSize })
      }
    }) as unknown as WebkadNode
    nodes.push({
      node,
      privateKey,
      datastore,
      async storedValue (key) {
        try {
          return Libp2pRecord.deserialize(await datastore.get(recordKey(key))).value
        } catch {
          return undefined
        }
      },
      async injectValue (key, value) {
        await datastore.put(recordKey(key), new Libp2pRecord(key, value, new Date()).serialize())
      },
      async forget (key) {
        await datastore.delete(recordKey(key))
      }
    })
  }
  for (let a = 0; a < nodes.length; a++) {
    for (let b = a + 1; b < nodes.length; b++) {
      const target = nodes[b]?.node.getMultiaddrs()[0]
      if (target != null) await nodes[a]?.node.dial(target)
    }
  }
  // Routing tables fill asynchronously after identify: wait until every node knows the others.
  const deadline = Date.now() + 15_000
  const { kadInternals } = await import('../../../src/p2p/dht/kad-internals.ts')
  while (nodes.some(({ node }) => kadInternals(node.services.dht).routingTable.size < Math.min(count - 1, kBucketSize))) {
    if (Date.now() > deadline) throw new Error('routing tables did not fill')
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  return nodes
}

export async function stopDhtNetwork (nodes: TestDhtNode[]): Promise<void> {
  await Promise.all(nodes.map(async ({ node }) => { await node.stop() }))
}
