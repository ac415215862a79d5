import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { startRelay } from '../../../relay/relay-node.ts'
import { createWebkadNode } from '../../../src/p2p/node.ts'
import { waitForReservation } from '../../../src/p2p/network/relay-connection.ts'
import { withoutRelaySearch } from '../../../src/p2p/network/relay-discovery.ts'
import { within } from '../../helpers/wait.ts'
import { testRelayConfig } from '../../relay/helpers.ts'
import type { Relay } from '../../../relay/relay-node.ts'
import type { WebkadNode } from '../../../src/p2p/node.ts'
import type { PeerRouting } from '@libp2p/interface'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function relayAt (dataDir: string, wsPort = 0): Promise<Relay> {
  return await startRelay({ ...testRelayConfig(dataDir), wsPort })
}

/** Counts the DHT lookups a node starts (libp2p's random walk runs them through peerRouting). */
function countLookups (node: WebkadNode): { count: number } {
  const counter = { count: 0 }
  const peerRouting = (node as unknown as { components: { peerRouting: PeerRouting } }).components.peerRouting
  const original = peerRouting.getClosestPeers.bind(peerRouting)
  peerRouting.getClosestPeers = (key, options) => {
    counter.count++
    return original(key, options)
  }
  return counter
}

describe('withoutRelaySearch', () => {
  it('starts no DHT lookups when the relay goes away, and the tab reserves again once it is redialled', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'webkad-test-'))
    cleanups.push(async () => { await rm(dataDir, { recursive: true, force: true }) })
    let relay = await relayAt(dataDir)
    let relayRunning = true
    cleanups.push(async () => { if (relayRunning) await relay.stop() })
    const address = relay.node.getMultiaddrs()[0]
    if (address == null) throw new Error('the relay announces no multiaddr')
    const wsPort = Number(address.getComponents().find(component => component.name === 'tcp')?.value)
    // Two tabs that know each other, so a random walk would have someone to ask.
    const tabs = await Promise.all([0, 1].map(async () => await createWebkadNode({ webrtc: false, bootnodes: [address] })))
    cleanups.push(async () => { await Promise.all(tabs.map(async tab => { await tab.stop() })) })
    await Promise.all(tabs.map(async tab => {
      await tab.dial(address)
      await waitForReservation(tab, AbortSignal.timeout(10_000), new Set([relay.node.peerId.toString()]))
    }))
    const lookups = tabs.map(countLookups)

    await relay.stop()
    relayRunning = false
    await vi.waitFor(() => { expect(tabs.map(tab => tab.getConnections(relay.node.peerId).length)).toEqual([0, 0]) }, within(10_000))
    // The stock transport starts its random walk as the reservation goes: lookups within milliseconds.
    await new Promise(resolve => setTimeout(resolve, 1_500))
    expect(lookups.map(lookup => lookup.count)).toEqual([0, 0])

    relay = await relayAt(dataDir, wsPort)
    relayRunning = true
    await Promise.all(tabs.map(async tab => {
      await tab.dial(address)
      await waitForReservation(tab, AbortSignal.timeout(10_000), new Set([relay.node.peerId.toString()]))
    }))
  })

  it('fails loudly when the transport no longer has the discovery it switches off', () => {
    const factory = withoutRelaySearch((() => ({})) as unknown as ReturnType<typeof circuitRelayTransport>)
    expect(() => factory({} as never)).toThrowError(expect.objectContaining({ name: 'RelayInternalsChangedError' }) as unknown as Error)
  })
})
