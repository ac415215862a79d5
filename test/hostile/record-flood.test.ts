import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fromString } from 'uint8arrays'
import { kadInternals } from '../../src/p2p/dht/kad-internals.ts'
import { createSignedRecord } from '../../src/p2p/dht/records.ts'
import { startDhtNetwork, stopDhtNetwork } from '../p2p/dht/dht-network.ts'
import type { TestDhtNode } from '../p2p/dht/dht-network.ts'

/**
 * A peer that floods "replications" (PUT_VALUE of valid, signed records) at a holder: each is a
 * PUT like any other, so the per-peer limit of the holder's record layer applies, and the number
 * of records a node holds is bounded. The flooding node is a real webkad node sending real
 * PUT_VALUE messages through kad-dht's network.
 */
const BURST = 20
const RATE = 2
const MAX_RECORDS = 30

describe('a peer flooding record stores', () => {
  let nodes: TestDhtNode[]
  let mallory: TestDhtNode
  let holder: TestDhtNode
  let honest: TestDhtNode

  beforeAll(async () => {
    nodes = await startDhtNetwork(3, 20, { holding: { perPeerBurst: BURST, perPeerRate: RATE, maxRecords: MAX_RECORDS } })
    ;[mallory, holder, honest] = nodes as [TestDhtNode, TestDhtNode, TestDhtNode]
  }, 60_000)

  afterAll(async () => {
    await stopDhtNetwork(nodes)
  })

  async function sendRecords (from: TestDhtNode, prefix: string, count: number): Promise<number> {
    const kad = kadInternals(from.node.services.dht)
    let stored = 0
    for (let index = 0; index < count; index++) {
      const key = `/webkad/${prefix}-${index}`
      const value = await createSignedRecord(from.privateKey, from.node.peerId, { key, payload: { type: 'text', text: `flood ${index}` }, sequence: 1n })
      const accepted = await kad.putValueTo(holder.node.peerId, fromString(key), value, { signal: AbortSignal.timeout(5_000) }).catch(() => false)
      if (accepted) stored++
    }
    return stored
  }

  it('stores no faster than burst + rate × time from one peer, and still serves an honest one', async () => {
    const started = Date.now()
    const stored = await sendRecords(mallory, 'flood', 150)
    const seconds = (Date.now() - started) / 1000
    expect(stored).toBeGreaterThanOrEqual(BURST)
    expect(stored).toBeLessThanOrEqual(BURST + Math.ceil(RATE * seconds) + 1)
    expect(holder.holding.records().filter(record => record.from === mallory.node.peerId.toString()).length).toBe(stored)
    // The limit is per peer: another peer's PUT is stored during the flood.
    expect(await sendRecords(honest, 'honest', 3)).toBe(3)
  })

})

describe('a node at its maximum number of records', () => {
  let nodes: TestDhtNode[]

  beforeAll(async () => {
    // No rate limit to speak of here: only the maximum can refuse.
    nodes = await startDhtNetwork(3, 20, { holding: { perPeerBurst: 1_000, perPeerRate: 1_000, maxRecords: MAX_RECORDS } })
  }, 60_000)

  afterAll(async () => {
    await stopDhtNetwork(nodes)
  })

  it('holds at most its maximum, whoever sends them, and still takes a newer version of a key it holds', async () => {
    const [first, holder, second] = nodes as [TestDhtNode, TestDhtNode, TestDhtNode]
    const put = async (from: TestDhtNode, key: string, sequence: bigint): Promise<boolean> => {
      const value = await createSignedRecord(from.privateKey, from.node.peerId, { key, payload: { type: 'text', text: `${key} v${sequence}` }, sequence })
      return await kadInternals(from.node.services.dht).putValueTo(holder.node.peerId, fromString(key), value, { signal: AbortSignal.timeout(5_000) }).catch(() => false)
    }
    let stored = 0
    for (let index = 0; index < MAX_RECORDS; index++) if (await put(first, `/webkad/fill-${index}`, 1n)) stored++
    expect(stored).toBe(MAX_RECORDS)
    for (let index = 0; index < 10; index++) expect(await put(second, `/webkad/more-${index}`, 1n)).toBe(false)
    expect(holder.holding.records().length).toBe(MAX_RECORDS)
    // A held key is not a new one: its newer version is stored.
    expect(await put(first, '/webkad/fill-0', 2n)).toBe(true)
    expect(holder.holding.records().find(record => record.key === '/webkad/fill-0')?.sequence).toBe(2n)
  })
})
