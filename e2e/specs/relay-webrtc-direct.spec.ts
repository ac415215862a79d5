import { test, expect } from '../fixtures/test.ts'
import { ChatPanel } from '../pages/chat-panel.ts'

/** Chat delivery may wait out a retry backoff after the first dial. */
const DELIVERY_TIMEOUT_MS = 30_000

/**
 * Issue #15: the relay's WebRTC-Direct listener (UDP, certificate hash in the multiaddr, for https
 * pages without a TLS proxy). A tab given only that bootnode goes online with a reservation made
 * over it, and a tab on WebSockets finds it and chats with it.
 */
test('a tab with only the relay\'s WebRTC-Direct bootnode goes online, reserves through it, and a WebSocket tab chats with it', async ({ relay, openTab, request }) => {
  const bootstrap = await (await request.get(new URL('/bootstrap', relay.appUrl).toString())).json() as { peerId: string, multiaddrs: string[] }
  expect(bootstrap.multiaddrs[0], 'WebSocket stays first').toBe(relay.multiaddr)
  const direct = bootstrap.multiaddrs.find(address => address.includes('/webrtc-direct/'))
  expect(direct, '/bootstrap lists the WebRTC-Direct address').toMatch(/^\/ip4\/127\.0\.0\.1\/udp\/\d+\/webrtc-direct\/certhash\/u[\w-]+\/p2p\//)

  const directTab = await openTab()
  const webSocketTab = await openTab()
  // The app pre-fills WebSocket addresses only on an http page.
  await expect(webSocketTab.bootnodeField).toHaveValue(relay.multiaddr)

  const { clickToOnlineMs: directMs } = await directTab.connect(direct)
  const { clickToOnlineMs: webSocketMs } = await webSocketTab.connect()
  test.info().annotations.push({ type: 'click → online', description: `WebRTC-Direct ${directMs} ms, WebSocket ${webSocketMs} ms` })
  console.log(`click → online: WebRTC-Direct ${directMs} ms, WebSocket ${webSocketMs} ms`)

  await test.step('the WebRTC-Direct tab\'s relay connection and reservation go over WebRTC-Direct', async () => {
    await expect(directTab.connectionRow(relay.peerId)).not.toHaveCount(0)
    await expect(directTab.connectionRow(relay.peerId, 'websocket')).toHaveCount(0)
    const relayAddrs = await directTab.page.evaluate((relayId) => {
      const node = window.webkad?.session.node
      if (node == null) throw new Error('no node')
      return {
        connections: node.getConnections().filter(c => c.remotePeer.toString() === relayId).map(c => c.remoteAddr.toString()),
        listen: node.getMultiaddrs().map(String)
      }
    }, relay.peerId)
    expect(relayAddrs.connections.length).toBeGreaterThan(0)
    for (const address of relayAddrs.connections) expect(address).toContain('/webrtc-direct/')
    expect(relayAddrs.listen).toContainEqual(expect.stringContaining(`/p2p/${relay.peerId}/p2p-circuit`))
  })

  await test.step('the WebSocket tab finds the WebRTC-Direct tab by peer ID and they chat both ways', async () => {
    const directId = await directTab.peerId()
    const webSocketId = await webSocketTab.peerId()
    const senderChat = new ChatPanel(webSocketTab.page)
    const receiverChat = new ChatPanel(directTab.page)
    await senderChat.openChat(directId)
    await senderChat.send('hello over webrtc-direct')
    await expect(senderChat.message('out', 1)).toHaveAttribute('data-state', 'delivered', { timeout: DELIVERY_TIMEOUT_MS })
    await receiverChat.openChat(webSocketId)
    await expect(receiverChat.message('in', 1).locator('.chat-text')).toHaveText('hello over webrtc-direct')
    await receiverChat.send('and back')
    await expect(receiverChat.message('out', 1)).toHaveAttribute('data-state', 'delivered', { timeout: DELIVERY_TIMEOUT_MS })
    await expect(senderChat.message('in', 1).locator('.chat-text')).toHaveText('and back')
  })
})

test('a WebRTC-Direct bootnode on a UDP port nothing listens on ends in BootnodeUnreachableError, not a hang', async ({ relay, openTab, request }) => {
  const bootstrap = await (await request.get(new URL('/bootstrap', relay.appUrl).toString())).json() as { multiaddrs: string[] }
  const direct = bootstrap.multiaddrs.find(address => address.includes('/webrtc-direct/'))
  if (direct == null) throw new Error('no WebRTC-Direct address in /bootstrap')
  // The WebSocket port: a TCP listener, nothing on UDP there.
  const dead = direct.replace(/\/udp\/\d+\//, `/udp/${relay.httpPort}/`)
  const tab = await openTab()
  await tab.submitConnect(dead)
  await tab.expectError('BootnodeUnreachableError', 30_000)
})

test('a WebRTC-Direct bootnode without certhash is refused with InvalidMultiaddrError', async ({ relay, openTab }) => {
  const tab = await openTab()
  await tab.submitConnect(`/ip4/127.0.0.1/udp/9/webrtc-direct/p2p/${relay.peerId}`)
  await tab.expectError('InvalidMultiaddrError')
})
