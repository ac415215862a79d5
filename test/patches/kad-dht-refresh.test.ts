/**
 * Routing-table refresh with the patched key search (patches/@libp2p+kad-dht+16.4.5.patch; Node
 * would pass unpatched too, the broken table was the browser variant, see vite.config.ts):
 * kad-dht's own refreshRoutingTable() on a real network; every key it queries must share
 * exactly `cpl` leading bits with the node's own Kademlia ID, and the queries must complete.
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { kadInternals } from '../../src/p2p/dht/kad-internals.ts'
import { within } from '../helpers/wait.ts'
import { startDhtNetwork, stopDhtNetwork } from '../p2p/dht/dht-network.ts'
import type { TestDhtNode } from '../p2p/dht/dht-network.ts'

function commonPrefixLength (a: Uint8Array, b: Uint8Array): number {
  let bits = 0
  for (let index = 0; index < a.length; index++) {
    const diff = (a[index] as number) ^ (b[index] as number)
    if (diff === 0) { bits += 8; continue }
    return bits + Math.clz32(diff) - 24
  }
  return bits
}

describe('kad-dht routing-table refresh (patched key search)', () => {
  let nodes: TestDhtNode[]
  beforeAll(async () => { nodes = await startDhtNetwork(12, 20) }, 60_000)
  afterAll(async () => { await stopDhtNetwork(nodes) })

  it('queries one key per common prefix length, each with exactly that cpl, and the queries finish', async () => {
    const dht = (nodes[0] as TestDhtNode).node.services.dht
    const refresh = kadInternals(dht).routingTableRefresh()
    const local = kadInternals(dht).localKadId()
    const queried: Array<{ cpl: number, found: number }> = []
    const original = refresh.peerRouting.getClosestPeers.bind(refresh.peerRouting)
    refresh.peerRouting.getClosestPeers = async function * (key, options) {
      let found = 0
      for await (const peer of original(key, options)) { found++; yield peer }
      queried.push({ cpl: commonPrefixLength(sha256(key), local), found })
    }
    const maxCpl = refresh._maxCommonPrefix()
    // The start-up refresh has scheduled the next one already: forget it, so the id set below
    // is the one this refresh schedules when it is done.
    clearTimeout(refresh.refreshTimeoutId)
    refresh.refreshTimeoutId = undefined
    await dht.refreshRoutingTable()
    // refreshRoutingTable() does not wait for its queries; kad-dht schedules the next refresh
    // once every query of this one has finished.
    await vi.waitFor(() => { expect(refresh.refreshTimeoutId, 'the next refresh, scheduled when this one is done').toBeDefined() }, within(30_000))
    clearTimeout(refresh.refreshTimeoutId)
    const cpls = queried.map(query => query.cpl).sort((a, b) => a - b)
    // Every cpl 0..maxCpl is refreshed (plus the gap rule's extra ones), each with its own cpl.
    for (let cpl = 0; cpl <= maxCpl; cpl++) expect(cpls).toContain(cpl)
    expect(new Set(cpls).size).toBe(cpls.length)
    expect(queried.every(query => query.found > 0)).toBe(true)
    expect(refresh.commonPrefixLengthRefreshedAt.filter(date => date != null).length).toBe(queried.length)

    // kad-dht counts the "common prefix" in whole zero bytes of the XOR distance, so a small
    // network only ever refreshes cpl 0 (and 1 when a peer shares 8+ bits). Drive every cpl the
    // key search supports (0..15) through the same per-cpl refresh.
    queried.length = 0
    for (let cpl = 0; cpl <= 15; cpl++) {
      await refresh._refreshCommonPrefixLength(cpl, new Date(0), true)
      expect(queried.at(-1)?.cpl).toBe(cpl)
      expect(refresh.commonPrefixLengthRefreshedAt[cpl]?.getTime()).toBeGreaterThan(Date.now() - 60_000)
    }
  }, 120_000)
})
