import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { peerIdFromString } from '@libp2p/peer-id'
import { test, expect } from '../fixtures/test.ts'
import { DhtPanel } from '../pages/dht-panel.ts'
import type { Locator } from '@playwright/test'
import type { WebkadTab } from '../pages/webkad-tab.ts'

/**
 * The DHT, usable and visible, through the UI of four tabs and the relay: signed Put and Get
 * with sequence numbers, the k-buckets (CPLs checked against Kademlia IDs computed here, not
 * by the app), the lookup trace with its JSON export, and bad input with named errors.
 */

/** Routing tables fill through the scheduler (auto-dial, self-lookup, random walk). */
const DISCOVERY_TIMEOUT_MS = 20_000
const MAX_VALUE_BYTES = 10 * 1024
const MAX_KEY_BYTES = 200
const RUNS = 10

/** Kademlia ID of a peer, computed independently of src/: SHA-256 of its multihash bytes. */
function kadId (peerId: string): Buffer {
  return createHash('sha256').update(peerIdFromString(peerId).toMultihash().bytes).digest()
}

/** Leading bits two IDs share, counted bit by bit. */
function commonPrefixLength (a: Uint8Array, b: Uint8Array): number {
  let bits = 0
  for (let index = 0; index < a.length; index++) {
    for (let bit = 7; bit >= 0; bit--) {
      if ((((a[index] ?? 0) >> bit) & 1) !== (((b[index] ?? 0) >> bit) & 1)) return bits
      bits++
    }
  }
  return bits
}

function p50 (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.ceil(sorted.length / 2) - 1] ?? Number.NaN
}

function ms (value: number): string {
  return value < 10 ? value.toFixed(1) : String(Math.round(value))
}

/** Full peer IDs of a list of peers as the UI shows them (short text, full ID in the title). */
async function listedPeers (items: Locator): Promise<string[]> {
  return await items.locator('code').evaluateAll(codes => codes.map(code => code.getAttribute('title') ?? ''))
}

/** The UI's short form of a peer ID must be an abbreviation of the full ID. */
function expectAbbreviationOf (shown: string, peerId: string): void {
  const [head, tail, ...rest] = shown.split('…')
  expect(rest, `"${shown}" is not of the form <head>…<tail>`).toEqual([])
  expect(head !== undefined && head.length >= 6 && peerId.startsWith(head), `"${shown}" abbreviates ${peerId}`).toBe(true)
  expect(tail !== undefined && tail.length >= 4 && peerId.endsWith(tail), `"${shown}" abbreviates ${peerId}`).toBe(true)
}

interface ExportedTrace {
  operation: string
  label: string
  status: string
  events: Array<{ kind: string }>
}

test('the DHT through the UI: signed Put and Get, k-buckets, lookup traces, bad input', async ({ relay, openTab }) => {
  const tabs = await Promise.all([openTab(), openTab(), openTab(), openTab()])
  const [tabA, , , tabD] = tabs as [WebkadTab, WebkadTab, WebkadTab, WebkadTab]
  const [dhtA, dhtB, dhtC, dhtD] = tabs.map(tab => new DhtPanel(tab.page)) as [DhtPanel, DhtPanel, DhtPanel, DhtPanel]

  await test.step('four tabs connect to the relay pre-filled from /bootstrap', async () => {
    for (const tab of tabs) await expect(tab.bootnodeField).toHaveValue(relay.multiaddr)
    await Promise.all(tabs.map(async tab => await tab.connect()))
  })
  const ids = await Promise.all(tabs.map(async tab => await tab.peerId()))
  const [idA, idB] = ids as [string, string, string, string]
  expect(new Set(ids).size).toBe(4)
  const network = new Set([relay.peerId, ...ids])

  const key = 'greeting'
  const fullKey = `/webkad/${key}`

  await test.step('tab A puts a text value: the Put result lists the peers that stored it', async () => {
    const result = await dhtA.put(key, 'hello from tab A')
    await expect(result).toContainText(fullKey)
    await expect(result).toContainText(/as sequence 1 in/)
    await expect(dhtA.acceptedPeers.first()).toBeVisible()
    const accepted = await listedPeers(dhtA.acceptedPeers)
    console.log(`put from A: accepted by ${accepted.length} peer(s)`)
    for (const peer of accepted) expect(network, `accepting peer ${peer}`).toContain(peer)
    await expect(result.getByRole('heading', { name: `Accepted by ${accepted.length}` })).toBeVisible()
  })

  await test.step('tab D gets it: value, author tab A, sequence 1, holders', async () => {
    await dhtD.get(key)
    await expect(dhtD.valueFound).toHaveText('hello from tab A')
    const author = dhtD.getFact('Author').locator('code')
    await expect(author).toHaveAttribute('title', idA)
    expectAbbreviationOf((await author.textContent() ?? '').trim(), idA)
    await expect(dhtD.getFact('Sequence')).toHaveText('1')
    await expect(dhtD.holders.first()).toBeVisible()
    const holders = await listedPeers(dhtD.holders)
    for (const peer of holders) expect(network, `holder ${peer}`).toContain(peer)
    await expect(dhtD.getResult.getByRole('heading', { name: `Returned by ${holders.length}` })).toBeVisible()
  })

  let exported: ExportedTrace | undefined
  let getAnswers = 0
  await test.step("the Get's lookup trace: listed as done with its answers, expandable, exportable as JSON", async () => {
    const row = dhtD.lookupRows({ operation: 'get', label: fullKey })
    await expect(row).toHaveCount(1)
    await expect(row).toHaveAttribute('data-status', 'done')
    getAnswers = Number(await row.getAttribute('data-answers'))
    expect(getAnswers, 'data-answers of the Get').toBeGreaterThanOrEqual(1)

    const toggle = dhtD.lookupToggle(row)
    await expect(toggle).toHaveAttribute('aria-expanded', 'false')
    await toggle.click()
    await expect(toggle).toHaveAttribute('aria-expanded', 'true')
    const raw = row.getByRole('button', { name: 'Raw events', exact: true })
    await expect(raw).toBeVisible()
    await expect(row.getByRole('button', { name: 'Export JSON', exact: true })).toBeVisible()
    await raw.click()
    await expect(row.getByLabel('Raw events', { exact: true }).and(row.locator('pre'))).toContainText(/peer-response/)

    const download = await dhtD.exportTrace(row)
    expect(download.suggestedFilename()).toMatch(/^webkad-get-.+\.json$/)
    exported = JSON.parse(await readFile(await download.path(), 'utf8')) as ExportedTrace
    expect(exported.operation).toBe('get')
    expect(exported.label).toBe(fullKey)
    expect(exported.status).toBe('done')
    expect(exported.events.length).toBeGreaterThanOrEqual(1)
  })

  await test.step('tab B puts a new value: sequence 2, and tab C gets the new value', async () => {
    const result = await dhtB.put(key, 'hello again, from tab B')
    await expect(result).toContainText(/as sequence 2 in/)
    await dhtC.get(key)
    await expect(dhtC.valueFound).toHaveText('hello again, from tab B')
    await expect(dhtC.getFact('Sequence')).toHaveText('2')
    await expect(dhtC.getFact('Author').locator('code')).toHaveAttribute('title', idB)
  })

  await test.step('every routing table lists the other three tabs, each under its true CPL', async () => {
    const kadIds = new Map([...network].map(peer => [peer, kadId(peer)]))
    for (const [index, tab] of tabs.entries()) {
      const dht = new DhtPanel(tab.page)
      const own = ids[index] as string
      const ownKadId = kadIds.get(own) as Buffer
      await expect(tab.page.getByTestId('own-kad-id')).toHaveAttribute('data-kad-id', ownKadId.toString('hex'))
      for (const other of ids.filter(peer => peer !== own)) {
        await expect(dht.routingPeers(other), `tab ${'ABCD'[index]}'s routing table lists ${other}`).toHaveCount(1, { timeout: DISCOVERY_TIMEOUT_MS })
      }
      const table = await dht.routingTable()
      for (const { peer, cpl } of table) {
        const theirs = kadIds.get(peer) ?? kadId(peer)
        expect(cpl, `data-cpl of ${peer} in tab ${'ABCD'[index]}`).toBe(commonPrefixLength(ownKadId, theirs))
      }
      console.log(`tab ${'ABCD'[index]} routing table: ${table.map(({ peer, cpl }) => `${peer === relay.peerId ? 'relay' : `tab ${'ABCD'[ids.indexOf(peer)] ?? '?'}`} cpl ${cpl}`).join(', ')}`)
    }
  })

  await test.step('bad input: named errors with clear messages, and a valid Put still works', async () => {
    await dhtA.submitPut('', 'a value without a key')
    await dhtA.expectError('InvalidRecordKeyError', { message: /empty/ })

    await dhtA.submitPut('too-big', 'x'.repeat(MAX_VALUE_BYTES + 1))
    await expect(dhtA.putGetPanel.getByText(`${(MAX_VALUE_BYTES + 1).toLocaleString('en')} / ${MAX_VALUE_BYTES.toLocaleString('en')} bytes (over the limit)`)).toBeVisible()
    await dhtA.expectError('InvalidRecordError', { reason: 'oversized', message: new RegExp(`${MAX_VALUE_BYTES + 1} bytes`) })

    await dhtA.submitPut('k'.repeat(MAX_KEY_BYTES + 1), 'a value under a long key')
    await expect(dhtA.putGetPanel.getByText(`${MAX_KEY_BYTES + 1} / ${MAX_KEY_BYTES} bytes (over the limit)`)).toBeVisible()
    await dhtA.expectError('InvalidRecordKeyError', { message: new RegExp(`${MAX_KEY_BYTES + 1} bytes`) })

    await dhtA.submitGet('never-written')
    await dhtA.expectError('RecordNotFoundError', { reason: 'no-record', message: /never-written/ })
    await expect(dhtA.getResult).toHaveCount(0)

    const result = await dhtA.put('after-bad-input', 'still works')
    await expect(result).toContainText('/webkad/after-bad-input')
    await expect(result).toContainText(/as sequence 1 in/)
    await expect(dhtA.alert).toHaveCount(0)
    await tabA.expectStatus('online')
  })

  await test.step('figures for the closing note (measured in the page, not asserted)', async () => {
    const keys = Array.from({ length: RUNS }, (_, index) => `bench-${index}`)
    const puts = await tabA.page.evaluate(async (keys) => {
      const session = window.webkad?.session
      if (session == null) throw new Error('window.webkad is missing')
      const out: Array<{ durationMs: number, wallMs: number }> = []
      for (const key of keys) {
        const startedAt = performance.now()
        const result = await session.put(key, { type: 'text', text: `value of ${key}` })
        out.push({ durationMs: result.durationMs, wallMs: performance.now() - startedAt })
      }
      return out
    }, keys)
    const gets = await tabD.page.evaluate(async (keys) => {
      const session = window.webkad?.session
      if (session == null) throw new Error('window.webkad is missing')
      const out: Array<{ durationMs: number, wallMs: number, answers: number, events: number }> = []
      for (const key of keys) {
        const startedAt = performance.now()
        const result = await session.get(key)
        const wallMs = performance.now() - startedAt
        const trace = session.queries.getSnapshot().find(query => query.id === result.queryId)
        out.push({
          durationMs: result.durationMs,
          wallMs,
          answers: trace?.events.filter(event => event.kind === 'peer-response').length ?? 0,
          events: trace?.events.length ?? 0
        })
      }
      return out
    }, keys)
    const targets = Array.from({ length: RUNS }, (_, index) => ids[1 + (index % 3)] as string)
    const finds = await tabA.page.evaluate(async (targets) => {
      const session = window.webkad?.session
      if (session == null) throw new Error('window.webkad is missing')
      const out: Array<{ durationMs: number, wallMs: number, queriesSent: number }> = []
      for (const target of targets) {
        const startedAt = performance.now()
        const result = await session.findPeer(target)
        out.push({ durationMs: result.durationMs, wallMs: performance.now() - startedAt, queriesSent: result.queriesSent })
      }
      return out
    }, targets)

    const closest = await tabA.page.evaluate(async (keys) => {
      const session = window.webkad?.session
      if (session == null) throw new Error('window.webkad is missing')
      const out: Array<{ durationMs: number }> = []
      for (const key of keys) out.push({ durationMs: (await session.closestPeers(key)).durationMs })
      return out
    }, keys)

    const median = (values: Array<{ durationMs: number }>): string => ms(p50(values.map(value => value.durationMs)))
    const medianWall = (values: Array<{ wallMs: number }>): string => ms(p50(values.map(value => value.wallMs)))
    console.log(`dht 4 tabs: put p50=${median(puts)}ms get p50=${median(gets)}ms findPeer p50=${median(finds)}ms`)
    console.log(`dht 4 tabs (wall clock around the session call; put includes reading the current sequence): put p50=${medianWall(puts)}ms get p50=${medianWall(gets)}ms findPeer p50=${medianWall(finds)}ms`)
    console.log(`dht 4 tabs: get answers p50=${p50(gets.map(get => get.answers))}, events p50=${p50(gets.map(get => get.events))}; findPeer messages sent p50=${p50(finds.map(find => find.queriesSent))} (0: answered from the local peer store); closest peers (a full network lookup) p50=${median(closest)}ms`)

    const trace = exported
    if (trace != null) {
      const byKind = new Map<string, number>()
      for (const event of trace.events) byKind.set(event.kind, (byKind.get(event.kind) ?? 0) + 1)
      console.log(`get trace (tab D, ${trace.label}): ${trace.events.length} events (${[...byKind].map(([kind, count]) => `${kind} ${count}`).join(', ')}), answers ${getAnswers}`)
    }
  })
})
