import { test, expect } from '../fixtures/test.ts'
import { ChatPanel } from '../pages/chat-panel.ts'
import type { APIRequestContext } from '@playwright/test'
import type { RelayProcess } from '../../test/harness/relay-process.ts'
import type { RelayStatus } from '../../relay/http-server.ts'
import type { WebkadTab } from '../pages/webkad-tab.ts'

/**
 * Two relays joined with --bootstrap form one network: a tab on relay A finds a tab on relay B
 * through the DHT (the relays are its backbone) and the two chat both ways.
 */

/** Relay B dials A at start; both must have identified each other as relays. */
const RELAYS_JOIN_TIMEOUT_MS = 20_000
/** Delivery may wait out a retry backoff (up to 10 s). */
const DELIVERY_TIMEOUT_MS = 30_000


async function relayStatus (request: APIRequestContext, relay: RelayProcess): Promise<RelayStatus> {
  const response = await request.get(new URL('/status', relay.appUrl).toString())
  expect(response.ok(), `GET /status of ${relay.appUrl}`).toBe(true)
  return await response.json() as RelayStatus
}

interface Peer {
  tab: WebkadTab
  chat: ChatPanel
  id: string
}

test('a tab on relay A finds and chats with a tab on relay B', async ({ relay, startRelay, openTab, request }) => {
  test.setTimeout(150_000)
  const relayA = relay
  // Both relays listen on WebRTC-Direct too (the default): that slowed start enough for relay B
  // to identify A before it listened for identify, and B never counted A as a relay.
  const relayB = await startRelay({ bootstrap: [relayA.multiaddr] })

  await test.step('relay B joins relay A: each lists the other in GET /status relays[]', async () => {
    const startedAt = Date.now()
    await expect.poll(async () => {
      const [a, b] = await Promise.all([relayStatus(request, relayA), relayStatus(request, relayB)])
      return { a: a.relays.includes(relayB.peerId), b: b.relays.includes(relayA.peerId) }
    }, { timeout: RELAYS_JOIN_TIMEOUT_MS, message: 'both relays list each other' }).toEqual({ a: true, b: true })
    console.log(`two relays: joined in ${Date.now() - startedAt}ms after relay B was ready`)
    const [a, b] = await Promise.all([relayStatus(request, relayA), relayStatus(request, relayB)])
    expect(a.peerId).toBe(relayA.peerId)
    expect(b.peerId).toBe(relayB.peerId)
  })

  const peers: { a: Peer[], b: Peer[] } = { a: [], b: [] }
  await test.step('three tabs on each relay; tabs on B open B\'s app, so B is their bootnode', async () => {
    const tabsA = await Promise.all(Array.from({ length: 3 }, async () => await openTab()))
    const tabsB = await Promise.all(Array.from({ length: 3 }, async () => await openTab({ url: relayB.appUrl })))
    for (const tab of tabsA) await expect(tab.bootnodeField).toHaveValue(relayA.multiaddr)
    for (const tab of tabsB) await expect(tab.bootnodeField).toHaveValue(relayB.multiaddr)
    await Promise.all([...tabsA, ...tabsB].map(async tab => await tab.connect()))
    for (const tab of tabsA) await expect(tab.connectionRow(relayA.peerId, 'websocket')).toHaveCount(1)
    for (const tab of tabsB) await expect(tab.connectionRow(relayB.peerId, 'websocket')).toHaveCount(1)
    const toPeer = async (tab: WebkadTab): Promise<Peer> => ({ tab, chat: new ChatPanel(tab.page), id: await tab.peerId() })
    peers.a = await Promise.all(tabsA.map(toPeer))
    peers.b = await Promise.all(tabsB.map(toPeer))
    expect(new Set([...peers.a, ...peers.b].map(peer => peer.id)).size).toBe(6)
    const [a, b] = await Promise.all([relayStatus(request, relayA), relayStatus(request, relayB)])
    console.log(`two relays: A has ${a.reservations} reservations, routing table ${a.routingTable}; B has ${b.reservations} reservations, routing table ${b.routingTable}`)
    expect(a.reservations).toBeGreaterThanOrEqual(3)
    expect(b.reservations).toBeGreaterThanOrEqual(3)
  })

  const [onA] = peers.a as [Peer]
  const [onB] = peers.b as [Peer]
  await test.step('the tab on A finds the tab on B (Find peer): an address through relay B', async () => {
    const startedAt = Date.now()
    const addresses = await onA.tab.findPeer(onB.id)
    const elapsed = Date.now() - startedAt
    const shown = (await onA.tab.findPeerResult.locator('p').first().textContent() ?? '').replace(/\s+/g, ' ').trim()
    console.log(`two relays: find peer A→B ${elapsed}ms, first click; the panel says "${shown}"`)
    const viaB = addresses.filter(address => address.includes(`/p2p/${relayB.peerId}/p2p-circuit`))
    expect(viaB, `addresses found: ${addresses.join(' ')}`).not.toEqual([])
  })

  await test.step('they chat both ways', async () => {
    await onA.chat.openChat(onB.id)
    await onA.chat.send('hello relay B, from a tab on relay A')
    await expect(onA.chat.message('out', 1)).toHaveAttribute('data-state', 'delivered', { timeout: DELIVERY_TIMEOUT_MS })
    await expect(onB.chat.conversation(onA.id)).toBeVisible({ timeout: DELIVERY_TIMEOUT_MS })
    await onB.chat.openChat(onA.id)
    await expect(onB.chat.message('in', 1).locator('.chat-text')).toHaveText('hello relay B, from a tab on relay A')
    await onB.chat.send('hello back from relay B')
    await expect(onB.chat.message('out', 1)).toHaveAttribute('data-state', 'delivered', { timeout: DELIVERY_TIMEOUT_MS })
    await expect(onA.chat.message('in', 1).locator('.chat-text')).toHaveText('hello back from relay B', { timeout: DELIVERY_TIMEOUT_MS })
    console.log(`two relays: chat path A→B "${(await onA.chat.path.textContent() ?? '').trim()}", B→A "${(await onB.chat.path.textContent() ?? '').trim()}"`)
    for (const tab of [...peers.a, ...peers.b].map(peer => peer.tab)) await tab.expectStatus('online')
  })
})
