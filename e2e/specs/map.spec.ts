import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { test, expect } from '../fixtures/test.ts'
import { MapPanel } from '../pages/map-panel.ts'
import type { ChildProcess } from 'node:child_process'
import type { APIRequestContext } from '@playwright/test'
import type { CrawlResult } from '../../src/p2p/crawl/crawl-types.ts'
import type { RelayProcess } from '../../test/harness/relay-process.ts'
import type { RelayStatus } from '../../relay/http-server.ts'
import type { WebkadTab } from '../pages/webkad-tab.ts'

/**
 * The network crawl over real tabs: 5 tabs on 2 joined relays, plus a stock js-libp2p peer that
 * runs none of webkad's code. One tab crawls; every node is found, and each tab's reconstructed
 * table is that tab's own routing table (read through window.webkad).
 */

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url))
const RELAYS_JOIN_TIMEOUT_MS = 20_000
/** No routing table in any tab changed for this long: kad-dht's start-up queries are over. */
const TABLES_QUIET_MS = 2_000

interface StockPeer { peerId: string, process: ChildProcess }

/** Starts e2e/stock-peer/stock-kad-peer.ts (libraries only) joined to `relayAddress`. */
async function startStockPeer (relayAddress: string): Promise<StockPeer> {
  const proc = spawn(process.execPath, ['--import', 'tsx', '--import', './relay/node20-polyfills.ts', 'e2e/stock-peer/stock-kad-peer.ts', relayAddress], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] })
  let stderr = ''
  proc.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8') })
  const peerId = await new Promise<string>((resolve, reject) => {
    let stdout = ''
    const timer = setTimeout(() => { reject(new Error(`stock peer did not start in 20 s: ${stderr}`)) }, 20_000)
    proc.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8')
      const line = stdout.split('\n').find(candidate => candidate.startsWith('{'))
      if (line != null && stdout.includes('\n')) { clearTimeout(timer); resolve((JSON.parse(line) as { peerId: string }).peerId) }
    })
    proc.once('exit', code => { clearTimeout(timer); reject(new Error(`stock peer exited (${String(code)}): ${stderr}`)) })
  })
  return { peerId, process: proc }
}

async function relayStatus (request: APIRequestContext, relay: RelayProcess): Promise<RelayStatus> {
  const response = await request.get(new URL('/status', relay.appUrl).toString())
  expect(response.ok(), `GET /status of ${relay.appUrl}`).toBe(true)
  return await response.json() as RelayStatus
}

/** Resolves in the tab once its routing table has not changed for `quietMs` (events, not polling). */
async function tableSettled (tab: WebkadTab, quietMs: number): Promise<void> {
  await tab.page.evaluate(async (quietMs) => {
    const table = window.webkad?.kad?.routingTable
    if (table == null) throw new Error('window.webkad.kad is missing: is the tab online?')
    await new Promise<void>(resolve => {
      let quiet: ReturnType<typeof setTimeout> | undefined
      const changed = (): void => { clearTimeout(quiet); quiet = setTimeout(done, quietMs) }
      const done = (): void => {
        table.removeEventListener('peer:add', changed)
        table.removeEventListener('peer:remove', changed)
        resolve()
      }
      table.addEventListener('peer:add', changed)
      table.addEventListener('peer:remove', changed)
      changed()
    })
  }, quietMs)
}

/**
 * Starts recording the tab's routing table on every change (page clock, ms since the epoch), so
 * the spec can compare a reconstructed table with the table as it was when that tab answered.
 */
async function recordTable (tab: WebkadTab): Promise<void> {
  await tab.page.evaluate(() => {
    const kad = window.webkad?.kad
    if (kad == null) throw new Error('window.webkad.kad is missing: is the tab online?')
    const log: Array<{ at: number, peers: string[] }> = []
    const snapshot = (): void => { log.push({ at: Date.now(), peers: kad.routingTablePeers().map(contact => contact.peerId.toString()).sort() }) }
    kad.routingTable.addEventListener('peer:add', snapshot)
    kad.routingTable.addEventListener('peer:remove', snapshot)
    snapshot()
    ;(window as unknown as { webkadTableLog: typeof log }).webkadTableLog = log
  })
}

/**
 * The tab's own k-buckets in every state they had from `from` to `to` (the state at `from`, then
 * each change up to `to`): the states a FIND_NODE answer sent in that window can show.
 */
async function ownTablesDuring (tab: WebkadTab, from: number, to: number): Promise<string[][]> {
  return await tab.page.evaluate(({ from, to }) => {
    const log = (window as unknown as { webkadTableLog?: Array<{ at: number, peers: string[] }> }).webkadTableLog ?? []
    const atStart = log.filter(entry => entry.at <= from).at(-1)
    return [...(atStart != null ? [atStart] : []), ...log.filter(entry => entry.at > from && entry.at <= to)].map(entry => entry.peers)
  }, { from, to })
}

function sameList (a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((item, index) => item === b[index])
}

async function crawl (tab: WebkadTab): Promise<{ result: CrawlResult, elapsedMs: number, startedAt: number, askedAt: Record<string, number> }> {
  return await tab.page.evaluate(async () => {
    const session = window.webkad?.session
    if (session == null) throw new Error('window.webkad is missing')
    const startedAt = Date.now()
    const started = performance.now()
    // When each peer's first FIND_NODE left (its stream open): dial time vs answer time.
    const askedAt: Record<string, number> = {}
    const result = await session.crawl({ onProgress: (event) => { if (event.name === 'crawl:request') askedAt[event.peerId] ??= Date.now() - startedAt } })
    return { result, elapsedMs: performance.now() - started, startedAt, askedAt }
  })
}

test('a crawl from one tab finds 5 tabs, 2 relays and a stock peer, and reads every tab\'s table', async ({ relay, startRelay, openTab, request }) => {
  test.setTimeout(180_000)
  const relayB = await startRelay({ bootstrap: [relay.multiaddr] })
  await expect.poll(async () => {
    const [a, b] = await Promise.all([relayStatus(request, relay), relayStatus(request, relayB)])
    return a.relays.includes(relayB.peerId) && b.relays.includes(relay.peerId)
  }, { timeout: RELAYS_JOIN_TIMEOUT_MS, message: 'both relays list each other' }).toBe(true)

  const stock = await startStockPeer(relay.multiaddr)
  try {
    const tabs = [
      ...await Promise.all(Array.from({ length: 3 }, async () => await openTab())),
      ...await Promise.all(Array.from({ length: 2 }, async () => await openTab({ url: relayB.appUrl })))
    ]
    await Promise.all(tabs.map(async tab => await tab.connect()))
    const tabIds = await Promise.all(tabs.map(async tab => await tab.peerId()))
    const crawler = tabs[0]!
    const crawlerId = tabIds[0]!
    const expected = [...tabIds, relay.peerId, relayB.peerId, stock.peerId].sort()
    expect(new Set(expected).size).toBe(8)
    const names = new Map([[relay.peerId, 'relay A'], [relayB.peerId, 'relay B'], [stock.peerId, 'stock peer'], ...tabIds.map((id, index): [string, string] => [id, `tab ${index + 1}`])])

    let first: Awaited<ReturnType<typeof crawl>> | undefined
    await test.step('crawl once every table has settled: all 8 nodes found and crawled', async () => {
      await Promise.all(tabs.map(async tab => { await tableSettled(tab, TABLES_QUIET_MS) }))
      await Promise.all(tabs.map(async tab => { await recordTable(tab) }))
      first = await crawl(crawler)
      const { result, elapsedMs } = first
      console.log(`map: crawl of 7 nodes + the stock peer: ${result.finishedAt - result.startedAt} ms in crawlNetwork (${elapsedMs.toFixed(0)} ms with loading its module), ${result.requests} FIND_NODE requests`)
      for (const node of result.nodes) console.log(`map:   ${names.get(node.peerId) ?? node.peerId} ${node.kind} ${node.status}, ${node.requests} requests, table ${node.routingTable.length}${first!.askedAt[node.peerId] != null ? `, asked ${first!.askedAt[node.peerId]} ms` : ''}${node.crawledAt != null ? `, answered ${node.crawledAt - first!.startedAt} ms into the crawl` : ''}${node.error != null ? `, ${node.error}` : ''}`)
      expect(result.cancelled).toBe(false)
      expect(result.crawler).toBe(crawlerId)
      expect(result.nodes.map(node => node.peerId).sort()).toEqual(expected)
      const byId = new Map(result.nodes.map(node => [node.peerId, node]))
      for (const id of expected) expect(byId.get(id)?.status, `status of ${id}: ${byId.get(id)?.error ?? ''}`).toBe(id === crawlerId ? 'self' : 'crawled')
      for (const id of tabIds.slice(1)) expect(byId.get(id)?.kind).toBe('tab')
      expect(byId.get(relay.peerId)?.kind).toBe('relay')
      expect(byId.get(relayB.peerId)?.kind).toBe('relay')
      // The stock peer: found and crawled like any other node, its table read over the standard protocol.
      expect(byId.get(stock.peerId)?.kind).toBe('other')
      expect(byId.get(stock.peerId)?.routingTable).toContain(relay.peerId)
    })

    await test.step('each tab\'s reconstructed table equals its own routing table (window.webkad)', async () => {
      const result = first!.result
      for (const [index, id] of tabIds.entries()) {
        const node = result.nodes.find(entry => entry.peerId === id)
        // Tables keep moving (auto-dial re-offers a connected peer kad-dht left out, every 3 s): the
        // answer must show the tab's table as it was at some moment between the crawl's start and
        // the answer's arrival, which is all the spec can know of when the tab computed it.
        // kad-dht never tells a peer about itself: the crawler is missing from every other answer.
        const states = (await ownTablesDuring(tabs[index]!, first!.startedAt, node?.crawledAt ?? 0))
          .map(peers => index === 0 ? peers : peers.filter(peer => peer !== crawlerId))
        const reconstructed = [...(node?.routingTable ?? [])].sort()
        const label = (peers: string[]): string => peers.map(peer => names.get(peer) ?? peer).join(', ')
        expect(states.length, `tab ${index + 1}: its table was recorded before the crawl`).toBeGreaterThan(0)
        if (states.length > 1) console.log(`map: tab ${index + 1}'s table changed ${states.length - 1} time(s) while the crawl ran`)
        expect(states.some(peers => sameList(peers, reconstructed)), `table of tab ${index + 1}: reconstructed [${label(reconstructed)}], its table while the crawl ran: ${states.map(peers => `[${label(peers)}]`).join(' then ')}`).toBe(true)
      }
    })

    await test.step('a crawl cancelled mid-way ends cleanly, and a new crawl works after it', async () => {
      const cancelled = await crawler.page.evaluate(async () => {
        const session = window.webkad?.session
        if (session == null) throw new Error('window.webkad is missing')
        const controller = new AbortController()
        const names: string[] = []
        const result = await session.crawl({
          signal: controller.signal,
          concurrency: 1,
          onProgress: event => { names.push(event.name); if (event.name === 'crawl:crawled') controller.abort() }
        })
        return { result, names }
      })
      expect(cancelled.result.cancelled).toBe(true)
      expect(cancelled.result.nodes.filter(node => node.status === 'crawled')).toHaveLength(1)
      expect(cancelled.result.nodes.filter(node => node.status === 'skipped').length).toBeGreaterThan(0)
      expect(cancelled.result.nodes.filter(node => node.status === 'unreachable')).toEqual([])
      expect(cancelled.names.filter(name => name === 'crawl:crawled')).toHaveLength(1)
      const again = await crawl(crawler)
      expect(again.result.cancelled).toBe(false)
      const notCrawled = again.result.nodes.filter(node => node.status !== 'crawled' && node.status !== 'self').map(node => `${names.get(node.peerId) ?? node.peerId}: ${node.status}, ${node.requests} requests${node.error != null ? `, ${node.error}` : ''}`)
      const missing = expected.filter(id => !again.result.nodes.some(node => node.peerId === id)).map(id => names.get(id) ?? id)
      expect(again.result.nodes.filter(node => node.status === 'crawled' || node.status === 'self').map(node => node.peerId).sort(), `after the cancelled crawl: not crawled ${JSON.stringify(notCrawled)}, not found ${JSON.stringify(missing)}`).toEqual(expected)
      console.log(`map: crawl after the cancelled one: ${again.elapsedMs.toFixed(0)} ms, ${again.result.requests} FIND_NODE requests`)
    })

    await test.step('the holders the map shows for a key are the peers the Put stored on, and the author; the Put replays over the map', async () => {
      const key = `/webkad/map-holders-${Date.now()}`
      const put = await crawler.page.evaluate(async (key) => {
        const session = window.webkad?.session
        if (session == null) throw new Error('window.webkad is missing')
        const result = await session.put(key, { type: 'text', text: 'who holds me?' })
        return { accepted: result.accepted, failed: result.failed.map(entry => entry.peer), sequence: String(result.sequence) }
      }, key)
      console.log(`map: put ${key}: accepted by ${put.accepted.length}, refused by ${put.failed.length}`)
      const map = new MapPanel(crawler.page)
      expect(await map.crawl()).toBe('done')
      const shown = await map.holders(key)
      // 8 nodes, k = 20: every node of the network is among the key's closest.
      expect(shown.map(holder => holder.peer).sort()).toEqual(expected)
      const holders = new Set([...put.accepted, crawlerId])
      for (const holder of shown) {
        expect(holder.state, `holder state of ${names.get(holder.peer) ?? holder.peer}: ${holder.note}`).toBe(holders.has(holder.peer) ? 'holds' : 'none')
        if (holder.state === 'holds') expect(holder.sequence).toBe(put.sequence)
      }
      console.log(`map: holders shown: ${shown.filter(holder => holder.state === 'holds').length} hold, ${shown.filter(holder => holder.state === 'none').length} none`)

      // The Put's own lookup, chosen in the replay and stepped to its end.
      const lookupId = await crawler.page.evaluate((key) => window.webkad?.session.queries.getSnapshot().find(query => query.operation === 'put' && query.label === key)?.id, key)
      expect(lookupId, 'the Put is in Lookups').toBeDefined()
      await map.lookupSelect.selectOption(lookupId!)
      await expect(map.replayStep).toHaveAttribute('data-step', '0')
      const total = Number(await map.replayStep.getAttribute('data-total'))
      expect(total).toBeGreaterThan(0)
      for (let step = 1; step <= total; step++) {
        await map.stepButton.click()
        await expect(map.replayStep).toHaveAttribute('data-step', String(step))
      }
      await expect(map.stepButton).toBeDisabled()
      expect(await map.ring.locator('.map-lookup-ask').count()).toBeGreaterThan(0)
      await map.stepBackButton.click()
      await expect(map.replayStep).toHaveAttribute('data-step', String(total - 1))
    })
  } finally {
    stock.process.kill('SIGTERM')
  }
})
