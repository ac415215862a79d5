import { test, expect } from '../fixtures/test.ts'
import { MapPanel } from '../pages/map-panel.ts'

/**
 * The Network map panel, driven through its UI in a real tab: Crawl finds the other tab and the
 * relay, a node's buckets show that node's own routing table, Export gives the crawl file and a
 * bad file is refused with a message that keeps the map.
 */
test('the Network map panel crawls, shows each node\'s buckets, exports and refuses a bad import', async ({ relay, openTab }) => {
  test.setTimeout(120_000)
  const [a, b] = await Promise.all([openTab(), openTab()])
  await Promise.all([a.connect(), b.connect()])
  const [aId, bId] = await Promise.all([a.peerId(), b.peerId()])
  const map = new MapPanel(a.page)
  // Both tabs know each other and the relay before the crawl (the tables the crawl must find).
  await expect.poll(async () => await b.page.evaluate(() => (window.webkad?.kad?.routingTablePeers() ?? []).length), { timeout: 30_000 }).toBeGreaterThanOrEqual(2)

  expect(await map.crawl()).toBe('done')
  const nodes = await map.nodes()
  expect(nodes.map(node => node.peer).sort()).toEqual([aId, bId, relay.peerId].sort())
  expect(nodes.find(node => node.peer === aId)?.status).toBe('self')
  expect(nodes.find(node => node.peer === bId)).toMatchObject({ kind: 'tab', status: 'crawled' })
  expect(nodes.find(node => node.peer === relay.peerId)).toMatchObject({ kind: 'relay', status: 'crawled' })
  const counts = await map.counts()
  expect(counts.found).toBe(3)
  expect(counts.crawled).toBe(2)
  expect(counts.requests).toBeGreaterThan(0)
  await expect(map.ring).toBeVisible()

  // B's buckets on A's map are B's own table (without A: kad-dht never tells a peer about itself).
  const bOwn = await b.page.evaluate(() => (window.webkad?.kad?.routingTablePeers() ?? []).map(contact => contact.peerId.toString()))
  expect(await map.nodeTable(bId)).toEqual(bOwn.filter(peer => peer !== aId).sort())

  const exported = await map.exportCrawl() as { format: string, crawler: string, nodes: Array<{ peerId: string }> }
  expect(exported.format).toBe('webkad-crawl')
  expect(exported.crawler).toBe(aId)
  expect(exported.nodes.map(node => node.peerId).sort()).toEqual([aId, bId, relay.peerId].sort())

  await map.importCrawl('broken.json', '{"format":"webkad-crawl","version":99}')
  await expect(map.alert).toContainText('Could not import broken.json')
  expect((await map.nodes()).length).toBe(3)
})
