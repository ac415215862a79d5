import { test, expect } from '../fixtures/test.ts'

/**
 * The demo, through the UI: the relay is node 1, two tabs join, one finds the other through
 * the DHT, opens a direct WebRTC connection, and keeps pinging it after the relay is gone.
 */
test('two tabs find each other, connect over WebRTC and keep talking without the relay', async ({ relay, openTab }) => {
  const tab2 = await openTab()
  const tab3 = await openTab()

  await test.step('tabs 2 and 3 connect to the relay pre-filled from /bootstrap', async () => {
    await expect(tab2.bootnodeField).toHaveValue(relay.multiaddr)
    await expect(tab3.bootnodeField).toHaveValue(relay.multiaddr)
    const [online2, online3] = await Promise.all([tab2.connect(), tab3.connect()])
    for (const [name, tab, online] of [['tab2', tab2, online2], ['tab3', tab3, online3]] as const) {
      const timings = await tab.page.evaluate(() => window.webkad?.session.state.getSnapshot().timings)
      console.log(`${name}: load ${tab.loadMs}ms + click→online ${online.clickToOnlineMs}ms = load→online ${(tab.loadMs ?? 0) + online.clickToOnlineMs}ms (in the page: relay ${Math.round(timings?.relayConnectedMs ?? 0)}, reservation ${Math.round(timings?.reservationMs ?? 0)}, DHT ready ${Math.round(timings?.dhtReadyMs ?? 0)} ms)`)
    }
    await expect(tab2.connectionRow(relay.peerId, 'websocket')).toHaveCount(1)
    await expect(tab3.connectionRow(relay.peerId, 'websocket')).toHaveCount(1)
  })

  const id2 = await tab2.peerId()
  const id3 = await tab3.peerId()
  expect(id3).not.toBe(id2)

  await test.step('tab 3 finds tab 2 by peer ID: a circuit address through the relay', async () => {
    // One click: tab 2 is in the relay's routing table since its reservation (relay/relay-node.ts).
    const startedAt = Date.now()
    const addresses = await tab3.findPeer(id2)
    console.log(`find peer: ${Date.now() - startedAt}ms, first click`)
    expect(addresses.length).toBeGreaterThan(0)
    const circuits = addresses.filter(address => address.includes('/p2p-circuit') && address.includes(`/p2p/${relay.peerId}/`))
    expect(circuits, `addresses found: ${addresses.join(' ')}`).not.toEqual([])
  })

  await test.step('tab 3 connects directly: a WebRTC connection to tab 2 appears on both sides', async () => {
    await tab3.connectDirectly(id2)
    await expect(tab3.connectionRow(id2, 'webrtc')).toHaveCount(1)
    await expect(tab2.connectionRow(id3, 'webrtc')).toHaveCount(1)
  })

  await test.step('the relay dies (SIGKILL): tab 3 sees it, and ping still reaches tab 2', async () => {
    await relay.kill()
    await tab3.expectStatus('relay-lost')
    await tab2.expectStatus('relay-lost')
    // Nothing relayed or WebSocket is left: only the direct connection can carry the ping.
    await expect(tab3.connectionRow(relay.peerId)).toHaveCount(0)
    await expect(tab3.connectionRow(id2, 'relayed')).toHaveCount(0)
    await expect(tab3.connectionRow(id2, 'webrtc')).toHaveCount(1)
    const rtt = await tab3.ping(id2)
    console.log(`ping tab3→tab2 over WebRTC without the relay: ${rtt.toFixed(1)}ms`)
    await expect(tab3.connectionRow(id2, 'webrtc')).toHaveCount(1)
  })
})
