import { generateKeyPair } from '@libp2p/crypto/keys'
import { MemoryDatastore } from 'datastore-core'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { fromString } from 'uint8arrays'
import { kadInternals } from '../../src/p2p/dht/kad-internals.ts'
import { createSignedRecord } from '../../src/p2p/dht/records.ts'
import { startMemoryNode } from '../helpers/nodes.ts'
import { within } from '../helpers/wait.ts'
import type { WebkadNode } from '../../src/p2p/node.ts'
import type { AbortOptions, PeerId } from '@libp2p/interface'
import type { Key } from 'interface-datastore'

/**
 * patches/@libp2p+kad-dht+16.4.5.patch, rpc/handlers/put-value.js: kad-dht's PUT_VALUE handler
 * tells the datastore who sent the record (`{ from }`), so the record layer can limit each sender
 * and note how a record arrived. Unpatched, `from` is undefined and this test fails.
 */
describe('kad-dht patch: the PUT_VALUE handler passes the sender to datastore.put', () => {
  const nodes: WebkadNode[] = []
  afterEach(async () => { await Promise.all(nodes.splice(0).map(async node => { await node.stop() })) })

  it('datastore.put of a received record gets { from: <sender> }', async () => {
    const senders: Array<PeerId | undefined> = []
    const datastore = new MemoryDatastore()
    const put = datastore.put.bind(datastore)
    datastore.put = async (key: Key, value: Uint8Array, options?: AbortOptions & { from?: PeerId }) => {
      if (key.toString().startsWith('/dht/record/')) senders.push(options?.from)
      return await put(key, value, options)
    }
    const holder = await startMemoryNode({ datastore, name: 'holder' })
    const writerKey = await generateKeyPair('Ed25519')
    const writer = await startMemoryNode({ privateKey: writerKey, name: 'writer' })
    nodes.push(holder, writer)
    await writer.dial(holder.getMultiaddrs()[0]!)
    const key = '/webkad/patched'
    const value = await createSignedRecord(writerKey, writer.peerId, { key, payload: { type: 'text', text: 'who sent me?' }, sequence: 1n })
    expect(await kadInternals(writer.services.dht).putValueTo(holder.peerId, fromString(key), value, { signal: AbortSignal.timeout(10_000) })).toBe(true)
    expect(senders.map(sender => sender?.toString())).toEqual([writer.peerId.toString()])
    // Let the routing tables settle first: yamux throws (uncaught) if a stream opens as its connection closes.
    await vi.waitFor(() => { expect([holder, writer].map(node => kadInternals(node.services.dht).routingTable.size)).toEqual([1, 1]) }, within(10_000))
  })
})
