import { test, expect } from '../fixtures/test.ts'
import { DhtPanel } from '../pages/dht-panel.ts'
import { SchedulerPanel } from '../pages/scheduler-panel.ts'
import type { WebkadTab } from '../pages/webkad-tab.ts'

/**
 * The discovery scheduler: a network that finds, keeps and heals itself. Tabs given only the
 * bootnode mesh over WebRTC on their own, survive a relay crash, forget a closed tab; records
 * are republished while their author is open and die with it; the Scheduler panel shows it all.
 */

/** The bound for five tabs to mesh from nothing but the bootnode. */
const MESH_TIMEOUT_MS = 30_000
/** Each tab must hold a reservation again this long after the relay is back. */
const RE_RESERVE_MS = 10_000
/** A closed tab must leave the others' routing tables and connection lists this fast. */
const CLOSED_TAB_GONE_MS = 10_000
/** The direct connections each tab must have once meshed. */
const MIN_WEBRTC_PEERS = 2
/** Lifetime of the record written in the lifetime test (the UI's Put uses the default 24 h). */
const RECORD_LIFETIME_MS = 20_000

interface TabView {
  /** Peers of the routing-table chips. */
  routing: string[]
  /** Peer of every WebRTC connection row (a peer twice means two connections). */
  webrtc: string[]
  /** Peer of every connection row. */
  connected: string[]
}

/** What one tab's UI shows right now: routing chips and connection rows. */
async function view (tab: WebkadTab): Promise<TabView> {
  return await tab.page.evaluate(() => {
    const peers = (selector: string): string[] => [...document.querySelectorAll(selector)].map(element => element.getAttribute('data-peer') ?? '')
    return {
      routing: peers('[data-testid="routing-peer"]'),
      webrtc: peers('[data-testid="connection-row"][data-transport="webrtc"]'),
      connected: peers('[data-testid="connection-row"]')
    }
  })
}

function duplicates (peers: string[]): string[] {
  return [...new Set(peers.filter((peer, index) => peers.indexOf(peer) !== index))]
}

function short (peer: string): string {
  return `…${peer.slice(-6)}`
}

/** Why the tabs are not meshed yet ('' when they are). */
function meshShortfall (ids: string[], views: TabView[]): string {
  const problems: string[] = []
  for (const [index, seen] of views.entries()) {
    const own = ids[index] as string
    const missing = ids.filter(peer => peer !== own && !seen.routing.includes(peer))
    const direct = new Set(seen.webrtc)
    if (missing.length > 0) problems.push(`tab ${index + 1} routing table lacks ${missing.map(short).join(',')} (its WebRTC peers: ${[...direct].map(short).join(',') || 'none'})`)
    if (direct.size < MIN_WEBRTC_PEERS) problems.push(`tab ${index + 1} has ${direct.size} WebRTC peer(s)`)
    const strangers = [...direct].filter(peer => !ids.includes(peer))
    if (strangers.length > 0) problems.push(`tab ${index + 1} has WebRTC to non-tabs ${strangers.map(short).join(',')}`)
  }
  return problems.join('; ')
}

/** Ids of the open WebRTC connections of a tab, from its connections store (measurement only). */
async function webrtcConnectionIds (tab: WebkadTab): Promise<Array<{ id: string, peer: string }>> {
  return await tab.page.evaluate(() => (window.webkad?.session.connections.getSnapshot() ?? [])
    .filter(connection => connection.transport === 'webrtc')
    .map(connection => ({ id: connection.id, peer: connection.remotePeer })))
}

/** Resolves with the time at which the tab's status badge reads `status` (polled every 50 ms). */
async function statusReachedAt (tab: WebkadTab, status: string, timeout: number): Promise<number> {
  await tab.page.waitForFunction(
    (status) => document.querySelector('[data-testid="node-status"]')?.getAttribute('data-status') === status,
    status,
    { polling: 50, timeout }
  )
  return Date.now()
}

test('five tabs mesh from the bootnode alone, survive a relay crash, and forget a closed tab', async ({ relay, openTab }) => {
  test.setTimeout(150_000)
  const tabs = await Promise.all(Array.from({ length: 5 }, async () => await openTab()))
  const ids = await Promise.all(tabs.map(async tab => await tab.peerId()))
  expect(new Set(ids).size).toBe(5)

  await test.step('five tabs click Connect and nothing else: within 30 s each routes to the other four and has ≥ 2 WebRTC peers', async () => {
    for (const tab of tabs) await expect(tab.bootnodeField).toHaveValue(relay.multiaddr)
    let lastClick = 0
    for (const tab of tabs) lastClick = await tab.submitConnect()
    let shortfall = 'not checked yet'
    await expect.poll(async () => {
      shortfall = meshShortfall(ids, await Promise.all(tabs.map(view)))
      return shortfall
    }, { timeout: MESH_TIMEOUT_MS, intervals: [250], message: 'five tabs meshed' }).toBe('')
    console.log(`mesh: 5 tabs meshed in ${Date.now() - lastClick}ms`)
    for (const tab of tabs) await tab.expectStatus('online')
  })

  await test.step('once settled, never two WebRTC rows to the same peer', async () => {
    // Settled: the WebRTC rows of every tab unchanged for 3 s (auto-dial may still be adding peers).
    let previous = ''
    let stableSince = Date.now()
    await expect.poll(async () => {
      const now = JSON.stringify((await Promise.all(tabs.map(view))).map(seen => [...seen.webrtc].sort()))
      if (now !== previous) {
        previous = now
        stableSince = Date.now()
      }
      return Date.now() - stableSince
    }, { timeout: 30_000, intervals: [500], message: 'WebRTC connections settle' }).toBeGreaterThanOrEqual(3_000)
    for (let sample = 0; sample < 6; sample++) {
      const views = await Promise.all(tabs.map(view))
      for (const [index, seen] of views.entries()) {
        expect(duplicates(seen.webrtc), `tab ${index + 1}: peers with two WebRTC rows (sample ${sample + 1})`).toEqual([])
      }
      await tabs[0]?.page.waitForTimeout(500)
    }
    const views = await Promise.all(tabs.map(view))
    console.log(`mesh settled: WebRTC peers per tab ${views.map(seen => new Set(seen.webrtc).size).join(', ')}`)
  })

  let survivors: Array<Array<{ id: string, peer: string }>> = []
  await test.step('the relay is killed (SIGKILL): every tab goes relay-lost', async () => {
    survivors = await Promise.all(tabs.map(webrtcConnectionIds))
    await relay.kill()
    await Promise.all(tabs.map(async tab => { await tab.expectStatus('relay-lost', 10_000) }))
  })

  await test.step('the relay restarts on the same ports and data dir: every tab is online again within 10 s', async () => {
    const peerId = relay.peerId
    await relay.restart()
    const readyAt = Date.now()
    expect(relay.peerId).toBe(peerId)
    const delays = await Promise.all(tabs.map(async tab => await statusReachedAt(tab, 'online', RE_RESERVE_MS + 5_000) - readyAt))
    console.log(`relay restart: re-reserved in max ${Math.max(...delays)}ms (per tab ${delays.join(', ')}ms)`)
    for (const [index, delay] of delays.entries()) expect(delay, `tab ${index + 1}: relay ready → online`).toBeLessThanOrEqual(RE_RESERVE_MS)
    for (const tab of tabs) await expect(tab.connectionRow(relay.peerId, 'websocket')).toHaveCount(1)
  })

  await test.step('the WebRTC connections between tabs survived the outage', async () => {
    const after = await Promise.all(tabs.map(webrtcConnectionIds))
    let kept = 0
    for (const [index, before] of survivors.entries()) {
      const now = new Set((after[index] ?? []).map(connection => connection.id))
      const lost = before.filter(connection => !now.has(connection.id))
      expect(lost.map(connection => short(connection.peer)), `tab ${index + 1}: WebRTC connections closed during the outage`).toEqual([])
      const tab = tabs[index] as WebkadTab
      for (const connection of before) await expect(tab.connectionRow(connection.peer, 'webrtc')).not.toHaveCount(0)
      kept += before.length
    }
    console.log(`relay restart: ${kept} WebRTC connection ends kept through the outage`)
  })

  const [closing, ...remaining] = tabs as [WebkadTab, ...WebkadTab[]]
  const closingId = ids[0] as string
  let newcomer: WebkadTab | undefined
  await test.step('a new tab connecting after the restart finds an old tab by its peer ID', async () => {
    newcomer = await openTab()
    await expect(newcomer.bootnodeField).toHaveValue(relay.multiaddr)
    await newcomer.connect()
    const target = ids[1] as string
    const startedAt = Date.now()
    const addresses = await newcomer.findPeer(target)
    console.log(`new tab after the restart: find peer ${Date.now() - startedAt}ms, first click`)
    expect(addresses.length).toBeGreaterThan(0)
    // Routing chips of the newcomer now include tab 1 too (checked below when tab 1 is closed).
    await expect(newcomer.page.locator(`[data-testid="routing-peer"][data-peer="${closingId}"]`)).toHaveCount(1, { timeout: 20_000 })
  })

  await test.step('a tab is closed: it leaves the other tabs\' routing tables and connection lists within 10 s', async () => {
    const others = [...remaining, newcomer as WebkadTab]
    for (const tab of remaining) await expect(tab.page.locator(`[data-testid="routing-peer"][data-peer="${closingId}"]`)).toHaveCount(1)
    const closedAt = Date.now()
    await closing.page.close()
    await expect.poll(async () => {
      const views = await Promise.all(others.map(view))
      return views.flatMap((seen, index) => [
        ...(seen.routing.includes(closingId) ? [`tab ${index + 2} routing`] : []),
        ...(seen.connected.includes(closingId) ? [`tab ${index + 2} connections`] : [])
      ])
    }, { timeout: CLOSED_TAB_GONE_MS, intervals: [100], message: 'the closed tab is gone everywhere' }).toEqual([])
    console.log(`closed tab: gone from ${others.length} tabs' routing tables and connection lists in ${Date.now() - closedAt}ms`)
    // And it stays gone.
    await remaining[0]?.page.waitForTimeout(3_000)
    for (const seen of await Promise.all(others.map(view))) {
      expect(seen.routing).not.toContain(closingId)
      expect(seen.connected).not.toContain(closingId)
    }
  })
})

test('a record lives while its author is open and dies after it closes; the Scheduler panel shows every task', async ({ relay, openTab }) => {
  test.setTimeout(150_000)
  const tabs = await Promise.all(Array.from({ length: 3 }, async () => await openTab()))
  const [author, helper, reader] = tabs as [WebkadTab, WebkadTab, WebkadTab]
  await Promise.all(tabs.map(async tab => await tab.connect()))
  const ids = await Promise.all(tabs.map(async tab => await tab.peerId()))
  for (const [index, tab] of tabs.entries()) {
    for (const other of ids.filter(peer => peer !== ids[index])) {
      await expect(tab.page.locator(`[data-testid="routing-peer"][data-peer="${other}"]`)).toHaveCount(1, { timeout: 20_000 })
    }
  }

  const name = 'short-lived'
  const key = `/webkad/${name}`
  const text = 'I live while my author is open'
  const authorPanel = new SchedulerPanel(author.page)
  let putAt = 0
  await test.step(`the author puts a record with a ${RECORD_LIFETIME_MS / 1000} s lifetime: it is listed as kept alive`, async () => {
    // The UI's Put always uses the default lifetime (24 h); a short one is only reachable from code.
    const put = await author.page.evaluate(async ({ name, text, lifetimeMs }) => {
      const session = window.webkad?.session
      if (session == null) throw new Error('window.webkad is missing')
      const result = await session.put(name, { type: 'text', text }, { lifetimeMs })
      return { key: result.key, sequence: result.sequence.toString(), accepted: result.accepted.length, expiresInMs: result.expiresAt - Date.now() }
    }, { name, text, lifetimeMs: RECORD_LIFETIME_MS })
    putAt = Date.now()
    expect(put.key).toBe(key)
    expect(put.sequence).toBe('1')
    expect(put.accepted).toBeGreaterThan(0)
    expect(put.expiresInMs).toBeLessThanOrEqual(RECORD_LIFETIME_MS)
    await expect(authorPanel.authoredRecord(key)).toBeVisible()
    await expect(authorPanel.authoredRecord(key)).toHaveAttribute('data-sequence', '1')
    await expect(authorPanel.authoredRecord(key)).toContainText(/expires in \d+ s/)
  })

  await test.step('Scheduler panel: every task shows its interval and countdown; Run Random walk now runs it', async () => {
    const panel = new SchedulerPanel(helper.page)
    const rows = await panel.readTasks()
    expect(rows.map(row => row.id).sort()).toEqual(['auto-dial', 'expire-records', 'random-walk', 'relay-reservation', 'replicate-records', 'reprovide-files', 'republish', 'routing-table-refresh', 'self-lookup'])
    for (const row of rows) {
      expect(row.interval, `interval of ${row.id}`).toMatch(/^every \d+ (s|min)$/)
      expect(row.nextRun, `countdown of ${row.id}`).toMatch(/^(in \d+ s|in \d+ min \d+ s|running…)$/)
    }
    expect(rows.find(row => row.id === 'relay-reservation')?.interval).toBe('every 3 s')
    expect(rows.find(row => row.id === 'random-walk')?.interval).toBe('every 30 s')
    expect(rows.find(row => row.id === 'self-lookup')?.interval).toBe('every 1 min')
    // The countdown counts down.
    const first = (await panel.readTasks()).find(row => row.id === 'self-lookup')?.nextRun ?? ''
    await expect.poll(async () => (await panel.readTasks()).find(row => row.id === 'self-lookup')?.nextRun, { timeout: 5_000 }).not.toBe(first)

    const walk = await panel.runNow('random-walk', 'Random walk')
    console.log(`run random walk now: runs ${walk.runs}, result ${walk.result}: ${walk.lastSummary}`)
    expect(walk.result).toBe('ok')
    expect(walk.lastSummary).toMatch(/close peer\(s\) found; routing table \d+ → \d+/)
  })

  await test.step(`after more than ${RECORD_LIFETIME_MS / 1000} s another tab still gets it, republished with a higher sequence`, async () => {
    await expect(authorPanel.authoredRecord(key)).not.toHaveAttribute('data-sequence', '1', { timeout: RECORD_LIFETIME_MS })
    const wait = putAt + RECORD_LIFETIME_MS + 1_000 - Date.now()
    if (wait > 0) await reader.page.waitForTimeout(wait)
    const dht = new DhtPanel(reader.page)
    await dht.get(name)
    await expect(dht.valueFound).toHaveText(text)
    const sequence = Number(await dht.getFact('Sequence').textContent())
    console.log(`record lifetime: get ${Date.now() - putAt}ms after the put returns sequence ${sequence}`)
    expect(sequence).toBeGreaterThan(1)
  })

  await test.step('the author closes; past the lifetime (and a sweep) a Get finds nothing', async () => {
    // Close between republishes, so the expiry read here is the last one the network saw.
    let expiresAt = 0
    await expect.poll(async () => {
      const state = await author.page.evaluate((key) => {
        const session = window.webkad?.session
        const record = session?.authored.getSnapshot().find(entry => entry.key === key)
        const running = session?.tasks.getSnapshot().find(task => task.id === 'republish')?.running ?? true
        return { running, expiresAt: record?.expiresAt ?? 0, nextRepublishAt: record?.nextRepublishAt ?? 0, now: Date.now() }
      }, key)
      expiresAt = state.expiresAt
      return !state.running && state.nextRepublishAt - state.now > 3_000
    }, { timeout: RECORD_LIFETIME_MS, intervals: [200] }).toBe(true)
    await author.page.close()
    const closedAt = Date.now()

    const wait = expiresAt + 1_000 - Date.now()
    if (wait > 0) await reader.page.waitForTimeout(wait)
    for (const tab of [helper, reader]) {
      const result = await new SchedulerPanel(tab.page).runNow('expire-records', 'Drop expired records')
      expect(result.result).toBe('ok')
    }
    const dht = new DhtPanel(reader.page)
    await dht.submitGet(name)
    const alert = await dht.expectError('RecordNotFoundError', { reason: 'no-record' })
    // Who still answered with the (expired, refused) record: the relay sweeps only every 30 s.
    const stillServing = await reader.page.evaluate((key) => {
      const trace = window.webkad?.session.queries.getSnapshot().find(query => query.operation === 'get' && query.label === key)
      return [...new Set((trace?.events ?? []).flatMap(event => event.kind === 'peer-response' && event.hasRecord ? [event.from.peer] : []))]
    }, key)
    const named = stillServing.map(peer => peer === relay.peerId ? 'the relay' : `tab ${ids.indexOf(peer) + 1}`)
    console.log(`record lifetime: author closed, get ${Date.now() - closedAt}ms later fails: ${(await alert.textContent() ?? '').trim()} (expired copies still served by: ${named.join(', ') || 'nobody'})`)
  })
})
