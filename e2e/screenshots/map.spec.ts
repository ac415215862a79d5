import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { test, expect } from '../fixtures/test.ts'
import { DhtPanel } from '../pages/dht-panel.ts'
import { MapPanel } from '../pages/map-panel.ts'
import { PageLayout } from '../pages/layout.ts'
import type { Page } from '@playwright/test'

/**
 * docs/screenshot-map-live.png: a live crawl of four tabs and a relay from one tab, with the
 * holders of a key it put ringed on the map.
 * docs/screenshot-map-50.png: the Network map showing docs/crawl-50-simulated.json (a crawl of
 * 50 simulated webkad nodes, written by `WEBKAD_WRITE_SAMPLE_CRAWL=1 npm run bench -- --only crawl`)
 * through Import JSON, edges on and one node chosen, at 1440 px in light mode.
 */
const SAMPLE = fileURLToPath(new URL('../../docs/crawl-50-simulated.json', import.meta.url))
const SHOT = fileURLToPath(new URL('../../docs/screenshot-map-50.png', import.meta.url))
const LIVE_SHOT = fileURLToPath(new URL('../../docs/screenshot-map-live.png', import.meta.url))

/** A full-page shot clipped to the map panel (an element shot stitches the sticky header over it). */
async function shootPanel (page: Page, map: MapPanel, path: string): Promise<void> {
  await page.mouse.move(0, 0)
  const clip = await map.panel.evaluate(element => {
    const box = element.getBoundingClientRect()
    return { x: box.left + window.scrollX, y: box.top + window.scrollY, width: box.width, height: box.height }
  })
  // At the top of the page the sticky header sits above the panel, outside the clip.
  await page.evaluate(() => { window.scrollTo(0, 0) })
  await page.screenshot({ path, fullPage: true, clip })
}

test('screenshot: a live crawl with the holders of a key', async ({ openTab }) => {
  const tabs = await Promise.all([openTab(), openTab(), openTab(), openTab()])
  await Promise.all(tabs.map(async tab => await tab.connect()))
  const page = tabs[0]!.page
  await page.setViewportSize({ width: 1440, height: 1000 })
  await page.emulateMedia({ colorScheme: 'light', reducedMotion: 'reduce' })
  await new DhtPanel(page).put('greeting', 'hello from tab A')
  const map = new MapPanel(page)
  expect(await map.crawl()).toBe('done')
  const holders = await map.holders('greeting')
  expect(holders.some(holder => holder.state === 'holds')).toBe(true)
  await shootPanel(page, map, LIVE_SHOT)
})

test('screenshot: the network map of a 50-node crawl', async ({ openTab }) => {
  const tab = await openTab()
  const page = tab.page
  await page.setViewportSize({ width: 1440, height: 1000 })
  await page.emulateMedia({ colorScheme: 'light', reducedMotion: 'reduce' })
  const map = new MapPanel(page)
  await new PageLayout(page).goToSection('Network map')
  // The section's chunk loads when it comes into view and replaces the placeholder.
  await expect(map.crawlButton).toBeVisible({ timeout: 20_000 })
  await map.importCrawl('crawl-50-simulated.json', await readFile(SAMPLE, 'utf8'))
  await expect(map.nodeButtons).toHaveCount(50)
  if (!await map.edgesToggle.isChecked()) await map.edgesToggle.check()
  const nodes = await map.nodes()
  const chosen = nodes.find(node => node.status === 'crawled')
  if (chosen == null) throw new Error('no crawled node in the sample')
  await map.nodeButton(chosen.peer).click()
  await expect(map.nodeDetails).toHaveAttribute('data-peer', chosen.peer)
  await shootPanel(page, map, SHOT)
})
