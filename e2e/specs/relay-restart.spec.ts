import { test, expect } from '../fixtures/test.ts'
import { DhtPanel } from '../pages/dht-panel.ts'

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
    expect(bootstrap.peerId).toBe(before.peerId)
    // WebSocket first; then the WebRTC-Direct address (its UDP port is picked afresh here, its certhash is kept).
    expect(bootstrap.multiaddrs[0]).toBe(before.multiaddr)
    for (const other of bootstrap.multiaddrs.slice(1)) expect(other).toContain('/webrtc-direct/certhash/')
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

/**
 * The crash of issue #15: tabs online, records stored, the relay SIGKILLed and started again on
 * its data directory. It took 24 s to listen while the tabs searched for a relay (now 0.6-1.8 s
 * in the bench, bench/node/relay-restart.ts); the bounds here are loose on purpose (a shared,
 * loaded machine), the goals are in the bench.
 */
test('after a crash with tabs online and records stored, the relay listens at once and every tab is back on its own', async ({ startRelay, openTab }) => {
  const relay = await startRelay({ compiled: true })
  const tabs = await Promise.all([0, 1, 2, 3].map(async () => await openTab({ url: relay.appUrl })))
  await Promise.all(tabs.map(async tab => { await tab.connect(relay.multiaddr) }))
  const panels = tabs.map(tab => new DhtPanel(tab.page))
  const keys = tabs.map((_, index) => `crash-${index}`)

  await test.step('each tab puts a record that the relay stores', async () => {
    for (const [index, panel] of panels.entries()) {
      await panel.put(keys[index] as string, `value ${index}`)
      const accepted = await panel.acceptedPeers.locator('code').evaluateAll(codes => codes.map(code => code.getAttribute('title') ?? ''))
      expect(accepted, `peers that stored ${keys[index] as string}`).toContain(relay.peerId)
    }
  })

  let listeningMs = 0
  await test.step('SIGKILL, then start again on the same ports and data dir', async () => {
    await relay.kill()
    await Promise.all(tabs.map(async tab => { await tab.expectStatus('relay-lost') }))
    const spawnedAt = Date.now()
    await relay.restart()
    listeningMs = Date.now() - spawnedAt
    console.log(`restart after crash: listening after ${listeningMs} ms`)
    expect(listeningMs, 'spawn → listening (goal 2 s, see the bench)').toBeLessThan(6_000)
  })

  await test.step('every tab is Online again without a click', async () => {
    const listeningAt = Date.now()
    await Promise.all(tabs.map(async tab => { await tab.expectStatus('online', 10_000) }))
    console.log(`restart after crash: all tabs online ${Date.now() - listeningAt} ms after listening`)
  })

  await test.step('the relay still holds every record it acknowledged', async () => {
    for (const [index, panel] of panels.entries()) {
      const key = keys[(index + 1) % keys.length] as string
      await panel.get(key)
      await expect(panel.valueFound).toHaveText(`value ${(index + 1) % keys.length}`)
    }
  })
})
