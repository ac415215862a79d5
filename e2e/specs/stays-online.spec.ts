import { test, expect } from '../fixtures/test.ts'
import type { WebkadTab } from '../pages/webkad-tab.ts'

/**
 * libp2p's connection monitor pings every connection (every 3 s: connectionMonitor.pingInterval
 * in src/p2p/node.ts) and aborts the connection when a ping fails; the relay connection used to
 * be aborted ~10 s after Connect. The watch ends once the relay connection has answered a
 * heartbeat at least this long after Connect (evidence that the period has passed with the
 * connection alive)...
 */
const ANSWERED_AFTER_MS = 15_000
/** ...and at least this many heartbeats in all (at 3 s: about 5 by then). */
const MIN_HEARTBEATS = 3
/** The scheduler's relay-reservation task (every 3 s) must also have found the reservation held this often. */
const MIN_RESERVATION_CHECKS = 3
/** Bound on the watch; it normally ends 15-18 s after Connect. */
const WATCH_TIMEOUT_MS = 60_000

interface Watched {
  /** Heartbeat pings the relay connection answered since the watch began (each sets `connection.rtt`). */
  heartbeats: number
  /** Last round-trip time the connection monitor measured, ms. */
  rtt?: number
  /** ms from the watch's start (right after Connect) to the last heartbeat answered. */
  lastHeartbeatMs?: number
  /** Summaries of the relay-reservation task's runs since the watch began. */
  reservationChecks: string[]
  /** Status changes away from online and closed relay connections: anything here is a loss. */
  lost: string[]
  /** ms since the watch began. */
  watchedMs: number
}

/**
 * From now on, records in the tab: status changes, closed connections to the relay, the
 * relay-reservation task's runs, and every heartbeat the relay connection answers. The monitor
 * reports a successful heartbeat only by assigning `connection.rtt`; an accessor on that one
 * connection object counts the assignments (it stores the value as before).
 */
async function watch (tab: WebkadTab, relayPeerId: string): Promise<void> {
  await tab.page.evaluate((relayPeerId) => {
    const { session, node } = window.webkad ?? {}
    if (session == null || node == null) throw new Error('tab is not connected')
    const relayConnections = node.getConnections().filter(connection => connection.remotePeer.toString() === relayPeerId && connection.status === 'open')
    if (relayConnections.length !== 1) throw new Error(`expected one open relay connection, found ${relayConnections.length}`)
    const connection = relayConnections[0] as (typeof relayConnections)[number]
    const startedAt = Date.now()
    const state = { heartbeats: 0, rtt: connection.rtt, lastHeartbeatMs: undefined as number | undefined, reservationChecks: [] as string[], lost: [] as string[], startedAt }
    ;(window as unknown as { __webkadE2eWatch: typeof state }).__webkadE2eWatch = state

    Object.defineProperty(connection, 'rtt', {
      configurable: true,
      enumerable: true,
      get: () => state.rtt,
      set: (value: number) => {
        state.rtt = value
        state.heartbeats++
        state.lastHeartbeatMs = Date.now() - startedAt
      }
    })
    session.state.subscribe(() => {
      const status = session.state.getSnapshot().status
      if (status !== 'online') state.lost.push(`status ${status} after ${Date.now() - startedAt} ms`)
    })
    node.addEventListener('connection:close', (event) => {
      if (event.detail.remotePeer.toString() === relayPeerId) {
        state.lost.push(`closed ${event.detail.direction} ${event.detail.remoteAddr.toString()} after ${Date.now() - startedAt} ms`)
      }
    })
    const reservationRuns = (): number => session.tasks.getSnapshot().find(task => task.id === 'relay-reservation')?.runs ?? 0
    let runsSeen = reservationRuns()
    session.tasks.subscribe(() => {
      const task = session.tasks.getSnapshot().find(task => task.id === 'relay-reservation')
      if (task == null || task.runs === runsSeen) return
      runsSeen = task.runs
      state.reservationChecks.push(`${task.lastResult ?? '?'}: ${task.lastSummary ?? ''}`)
    })
  }, relayPeerId)
}

async function watched (tab: WebkadTab): Promise<Watched> {
  return await tab.page.evaluate(() => {
    const { startedAt, ...state } = (window as unknown as { __webkadE2eWatch: Omit<Watched, 'watchedMs'> & { startedAt: number } }).__webkadE2eWatch
    return { ...state, reservationChecks: [...state.reservationChecks], lost: [...state.lost], watchedMs: Date.now() - startedAt }
  })
}

/**
 * Regression: two tabs used to lose their relay connection about 10 s after Connect (the
 * connection monitor's ping met kad-dht's on the same connection, failed on the one-stream
 * /ipfs/ping limit, and aborted the connection). No fixed sleep: each tab is watched until its
 * relay connection has answered a heartbeat ANSWERED_AFTER_MS after Connect (MIN_HEARTBEATS in
 * all) and the reservation task has found the reservation MIN_RESERVATION_CHECKS times, or until
 * something was lost. A tab whose heartbeats never run fails too: no evidence, no pass.
 */
test('two idle tabs stay online and keep their relay connection', async ({ relay, openTab }) => {
  const tabs = [await openTab(), await openTab()]
  await Promise.all(tabs.map(async tab => { await tab.connect() }))
  await Promise.all(tabs.map(async tab => { await watch(tab, relay.peerId) }))

  await Promise.all(tabs.map(async (tab, index) => {
    await expect.poll(async () => {
      const state = await watched(tab)
      return state.lost.length > 0 || (state.heartbeats >= MIN_HEARTBEATS && (state.lastHeartbeatMs ?? 0) >= ANSWERED_AFTER_MS &&
        state.reservationChecks.length >= MIN_RESERVATION_CHECKS)
    }, {
      message: `tab ${index + 1}: a relay heartbeat answered ${ANSWERED_AFTER_MS / 1000} s after Connect (${MIN_HEARTBEATS} in all) and ${MIN_RESERVATION_CHECKS} reservation checks, or a loss`,
      timeout: WATCH_TIMEOUT_MS,
      intervals: [250]
    }).toBe(true)
  }))

  for (const [index, tab] of tabs.entries()) {
    const state = await watched(tab)
    console.log(`tab ${index + 1}: ${state.heartbeats} heartbeats (last at ${state.lastHeartbeatMs} ms, rtt ${state.rtt} ms), ${state.reservationChecks.length} reservation checks in ${state.watchedMs} ms`)
    expect(state.lost, `tab ${index + 1}: status changes and closed relay connections while idle`).toEqual([])
    expect(state.heartbeats, `tab ${index + 1}: heartbeats the relay connection answered`).toBeGreaterThanOrEqual(MIN_HEARTBEATS)
    expect(state.lastHeartbeatMs, `tab ${index + 1}: ms after Connect of the last heartbeat answered`).toBeGreaterThanOrEqual(ANSWERED_AFTER_MS)
    expect(state.reservationChecks.filter(check => !check.startsWith('ok: reserved on ')), `tab ${index + 1}: reservation checks that did not find the reservation`).toEqual([])
    await tab.expectStatus('online')
    await expect(tab.connectionRow(relay.peerId, 'websocket')).toHaveCount(1)
  }
})
