import { afterEach, describe, expect, it, vi } from 'vitest'
import { crawlNetwork, openDhtStream } from '../../../src/p2p/crawl/crawler.ts'
import { kadInternals } from '../../../src/p2p/dht/kad-internals.ts'
import { startDhtNetwork, stopDhtNetwork } from '../dht/dht-network.ts'
import { crawlHost } from './crawl-host.ts'
import { crawlFromNode } from '../../../src/p2p/crawl/session-crawl.ts'
import type { CrawlProgressEvent } from '../../../src/p2p/crawl/crawl-types.ts'
import type { TestDhtNode } from '../dht/dht-network.ts'
import type { WebkadNode } from '../../../src/p2p/node.ts'

/** A node's own k-buckets as peer ID strings, without `exclude` (whom kad-dht never tells about itself). */
function ownTable (node: WebkadNode, exclude: string): string[] {
  return kadInternals(node.services.dht).routingTablePeers().map(contact => contact.peerId.toString()).filter(peer => peer !== exclude).sort()
}

/** Resolves once no routing table of `nodes` has changed for `quietMs` (or after 15 s, to fail on the tables). */
async function tablesSettled (nodes: readonly WebkadNode[], quietMs: number): Promise<void> {
  await new Promise<void>(resolve => {
    const tables = nodes.map(node => kadInternals(node.services.dht).routingTable)
    let quiet: ReturnType<typeof setTimeout>
    const done = (): void => {
      clearTimeout(quiet)
      clearTimeout(giveUp)
      for (const table of tables) { table.removeEventListener('peer:add', changed); table.removeEventListener('peer:remove', changed) }
      resolve()
    }
    const changed = (): void => { clearTimeout(quiet); quiet = setTimeout(done, quietMs) }
    const giveUp = setTimeout(done, 15_000)
    for (const table of tables) { table.addEventListener('peer:add', changed); table.addEventListener('peer:remove', changed) }
    changed()
  })
}

let network: TestDhtNode[] = []
afterEach(async () => { await stopDhtNetwork(network); network = [] })

describe('crawlNetwork (real webkad nodes on the memory transport)', () => {
  it('finds every node of a 10-node network and reads each routing table as the node holds it', async () => {
    network = await startDhtNetwork(10, 20)
    const crawler = network[0]!.node
    const events: CrawlProgressEvent[] = []
    const started = performance.now()
    const result = await crawlNetwork(crawlHost(crawler), { onProgress: event => events.push(event) })
    const elapsedMs = performance.now() - started
    // The figure for the issue (goal ≤ 2 s for 10 nodes); the bound here only catches a stall.
    console.log(`crawl of 10 nodes: ${elapsedMs.toFixed(0)} ms, ${result.requests} FIND_NODE requests`)
    expect(elapsedMs).toBeLessThan(10_000)
    expect(result.cancelled).toBe(false)
    expect(result.nodes.map(node => node.peerId).sort()).toEqual(network.map(({ node }) => node.peerId.toString()).sort())
    const self = crawler.peerId.toString()
    for (const { node } of network) {
      const crawled = result.nodes.find(entry => entry.peerId === node.peerId.toString())
      expect(crawled?.status).toBe(node === crawler ? 'self' : 'crawled')
      expect([...(crawled?.routingTable ?? [])].sort()).toEqual(node === crawler ? ownTable(node, '') : ownTable(node, self))
    }
    const last = events.at(-1)
    expect(last?.counts).toMatchObject({ crawled: 9, found: 10, unreachable: 0 })
    expect(result.requests).toBe(events.filter(event => event.name === 'crawl:request').length)
    // A table of 9 with k = 20 is listed by one probe of the whole keyspace.
    for (const node of result.nodes.filter(entry => entry.status === 'crawled')) expect(node.requests).toBe(1)
    for (const node of result.nodes) expect(node.requests).toBeLessThanOrEqual(16)
  })

  it('reaches nodes the crawler has never met, through the addresses in the answers', async () => {
    network = await startDhtNetwork(6, 20, { connect: false })
    // A chain: 0-1-2-3-4-5. The crawler only knows node 1 at the start.
    for (let index = 0; index + 1 < network.length; index++) await network[index]!.node.dial(network[index + 1]!.node.getMultiaddrs()[0]!)
    const crawler = network[0]!.node
    await expect.poll(() => kadInternals(network[5]!.node.services.dht).routingTable.size, { timeout: 10_000 }).toBeGreaterThan(0)
    const result = await crawlNetwork(crawlHost(crawler))
    expect(result.nodes.filter(node => node.status === 'crawled' || node.status === 'self')).toHaveLength(6)
    // Node 5's table holds node 4 (its only link) and whoever kad-dht's own queries met since.
    const tail = result.nodes.find(node => node.peerId === network[5]!.node.peerId.toString())
    expect(tail?.routingTable).toContain(network[4]!.node.peerId.toString())
    expect([...(tail?.routingTable ?? [])].sort()).toEqual(ownTable(network[5]!.node, crawler.peerId.toString()))
  })

  it('reads partial tables exactly when buckets are small (k = 3): tables differ from node to node', async () => {
    network = await startDhtNetwork(10, 3)
    const crawler = network[0]!.node
    const self = crawler.peerId.toString()
    // With k = 3 kad-dht's own start-up queries still swap peers in and out of full buckets for a
    // while (a CI run read a table one peer short): crawl once the tables have settled, and compare
    // each table as it was when its last answer came.
    await tablesSettled(network.map(({ node }) => node), 500)
    const tableWhenCrawled = new Map<string, string[]>()
    const result = await crawlNetwork(crawlHost(crawler), {
      onProgress: event => {
        if (event.name !== 'crawl:crawled') return
        const node = network.find(({ node }) => node.peerId.toString() === event.peerId)?.node
        if (node != null) tableWhenCrawled.set(event.peerId, ownTable(node, self))
      }
    })
    expect(result.nodes.map(node => node.peerId).sort()).toEqual(network.map(({ node }) => node.peerId.toString()).sort())
    for (const { node } of network) {
      const crawled = result.nodes.find(entry => entry.peerId === node.peerId.toString())
      expect([...(crawled?.routingTable ?? [])].sort(), node.peerId.toString()).toEqual(node === crawler ? ownTable(node, '') : tableWhenCrawled.get(node.peerId.toString()))
    }
    // With k = 3, no node holds all 9 others: the test compares real, distinct tables.
    expect(result.nodes.some(node => node.routingTable.length < 9)).toBe(true)
  })

  it('ends at once when aborted, with what it learned and the rest marked skipped', async () => {
    network = await startDhtNetwork(8, 20)
    const controller = new AbortController()
    const result = await crawlNetwork(crawlHost(network[0]!.node), {
      signal: controller.signal,
      concurrency: 1,
      onProgress: event => { if (event.name === 'crawl:crawled') controller.abort() }
    })
    expect(result.cancelled).toBe(true)
    expect(result.nodes.filter(node => node.status === 'crawled')).toHaveLength(1)
    expect(result.nodes.filter(node => node.status === 'skipped').length).toBeGreaterThan(0)
  })

  it('crawlFromNode (what session.crawl runs) seeds from the live node\'s own k-buckets', async () => {
    network = await startDhtNetwork(4, 20)
    const crawler = network[0]!.node
    const found: string[] = []
    const result = await crawlFromNode({ node: crawler, kad: kadInternals(crawler.services.dht) }, { onProgress: event => { if (event.name === 'crawl:found') found.push(event.peerId) } })
    expect(result.crawler).toBe(crawler.peerId.toString())
    expect(found.sort()).toEqual(network.slice(1).map(({ node }) => node.peerId.toString()).sort())
    expect(result.nodes.find(node => node.status === 'self')?.routingTable.sort()).toEqual(ownTable(crawler, ''))
  })
})

describe('openDhtStream with two connections to one peer (both ends dialled at once)', () => {
  it('opens the stream on the connection both ends keep, and on the other when told to avoid it', async () => {
    network = await startDhtNetwork(2, 20, { connect: false })
    const [lo, hi] = [...network].sort((a, b) => a.node.peerId.toString() < b.node.peerId.toString() ? -1 : 1) as [TestDhtNode, TestDhtNode]
    // At lo, the kept one is the connection lo dialled (the smaller ID dials), here the older;
    // libp2p itself would open the stream on the newer one.
    const kept = await lo.node.dial(hi.node.getMultiaddrs()[0]!)
    await hi.node.dial(lo.node.getMultiaddrs()[0]!, { force: true })
    await vi.waitFor(() => { expect(lo.node.getConnections(hi.node.peerId)).toHaveLength(2) })
    const duplicate = lo.node.getConnections(hi.node.peerId).find(connection => connection !== kept)
    expect(duplicate?.direction).toBe('inbound')
    const onKept = await openDhtStream(crawlHost(lo.node), hi.node.peerId, { signal: AbortSignal.timeout(5000), dialTimeoutMs: 5000 })
    expect(kept.streams).toContain(onKept)
    const away = await openDhtStream(crawlHost(lo.node), hi.node.peerId, { signal: AbortSignal.timeout(5000), dialTimeoutMs: 5000, avoid: kept })
    expect(duplicate?.streams).toContain(away)
    onKept.abort(new Error('done'))
    away.abort(new Error('done'))
  })

  it('after a broken stream on the only connection, waits for the connection both ends keep instead of dialling a duplicate', async () => {
    network = await startDhtNetwork(2, 20, { connect: false })
    const [a, b] = network as [TestDhtNode, TestDhtNode]
    const broken = await a.node.dial(b.node.getMultiaddrs()[0]!)
    let dials = 0
    const countDial = (event: CustomEvent<{ direction: string }>): void => { if (event.detail.direction === 'outbound') dials++ }
    a.node.addEventListener('connection:open', countDial as never)
    // The other end's connection arrives while a waits (as the peer's own dial does in a tab).
    const opening = openDhtStream(crawlHost(a.node), b.node.peerId, { signal: AbortSignal.timeout(5000), dialTimeoutMs: 5000, avoid: broken })
    await b.node.dial(a.node.getMultiaddrs()[0]!, { force: true })
    const stream = await opening
    a.node.removeEventListener('connection:open', countDial as never)
    const on = a.node.getConnections(b.node.peerId).find(connection => connection.streams.includes(stream))
    expect(on).toBeDefined()
    expect(on).not.toBe(broken)
    expect(on?.direction).toBe('inbound')
    expect(dials, 'no new connection dialled by a').toBe(0)
    stream.abort(new Error('done'))
  })
})
