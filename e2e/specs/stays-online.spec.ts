import { test, expect } from '../fixtures/test.ts'
import type { WebkadTab } from '../pages/webkad-tab.ts'

/** libp2p's connection monitor pings every connection each 10 s: outlast two heartbeats. */
const WATCH_MS = 22_000

/** Records status changes and closed connections to the relay in the tab, from now on. */
async function watch (tab: WebkadTab, relayPeerId: string): Promise<void> {
  await tab.page.evaluate((relayPeerId) => {
    const { session, node } = window.webkad ?? {}
    if (session == null || node == null) throw new Error('tab is not connected')
    const seen: string[] = []
    ;(window as unknown as { __webkadE2eSeen: string[] }).__webkadE2eSeen = seen
    session.state.subscribe(() => {
      const status = session.state.getSnapshot().status
      if (status !== 'online') seen.push(`status ${status}`)
    })
    node.addEventListener('connection:close', (event) => {
      if (event.detail.remotePeer.toString() === relayPeerId) seen.push(`closed ${event.detail.direction} ${event.detail.remoteAddr.toString()}`)
    })
  }, relayPeerId)
}

async function seen (tab: WebkadTab): Promise<string[]> {
  return await tab.page.evaluate(() => (window as unknown as { __webkadE2eSeen: string[] }).__webkadE2eSeen)
}

/**
 * Regression: two tabs used to lose their relay connection about 10 s after Connect (the
 * connection monitor's ping met kad-dht's on the same connection, failed on the one-stream
 * /ipfs/ping limit, and aborted the connection).
 */
test('two idle tabs stay online and keep their relay connection', async ({ relay, openTab }) => {
  const tabs = [await openTab(), await openTab()]
  await Promise.all(tabs.map(async tab => { await tab.connect() }))
  await Promise.all(tabs.map(async tab => { await watch(tab, relay.peerId) }))

  await tabs[0]?.page.waitForTimeout(WATCH_MS)

  for (const tab of tabs) {
    expect(await seen(tab), 'status changes and closed relay connections while idle').toEqual([])
    await tab.expectStatus('online')
    await expect(tab.connectionRow(relay.peerId, 'websocket')).toHaveCount(1)
  }
})
