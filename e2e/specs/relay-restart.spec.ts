import { test, expect } from '../fixtures/test.ts'

/** The relay keeps its key in its data directory, so its multiaddr survives restarts. */
test('a restarted relay keeps its multiaddr, and tabs can connect to it again', async ({ relay, openTab, request }) => {
  const before = { multiaddr: relay.multiaddr, peerId: relay.peerId, appUrl: relay.appUrl }
  const tab = await openTab()
  await tab.connect()

  await test.step('graceful stop (SIGTERM), restart on the same ports and data dir', async () => {
    await relay.stop()
    expect(relay.running).toBe(false)
    await tab.expectStatus('relay-lost')
    await relay.restart()
    expect(relay.multiaddr).toBe(before.multiaddr)
    expect(relay.peerId).toBe(before.peerId)
    expect(relay.appUrl).toBe(before.appUrl)
    const bootstrap = await (await request.get(new URL('/bootstrap', relay.appUrl).toString())).json() as { peerId: string, multiaddrs: string[] }
    expect(bootstrap).toEqual({ peerId: before.peerId, multiaddrs: [before.multiaddr] })
  })

  await test.step('a fresh tab connects to the restarted relay', async () => {
    const fresh = await openTab()
    await expect(fresh.bootnodeField).toHaveValue(before.multiaddr)
    await fresh.connect()
  })

  await test.step('the tab that lost the relay reconnects', async () => {
    await tab.reconnect()
    await expect(tab.connectionRow(before.peerId, 'websocket')).toHaveCount(1)
  })

  await test.step('after a crash (SIGKILL) too', async () => {
    await relay.kill()
    await tab.expectStatus('relay-lost')
    await relay.restart()
    expect(relay.multiaddr).toBe(before.multiaddr)
    await tab.reconnect()
  })
})
