import { fileURLToPath } from 'node:url'
import { test, expect } from '../fixtures/test.ts'
import { DhtPanel } from '../pages/dht-panel.ts'
import { PageLayout } from '../pages/layout.ts'

/**
 * docs/screenshot.png: a tab after a Get, reached through the section index (Lookups), at
 * 1440 px in light mode; docs/screenshot-phone-dark.png: the DHT section of the same tab at
 * 390 px in dark mode. Four real tabs and a relay.
 */
const WIDE = fileURLToPath(new URL('../../docs/screenshot.png', import.meta.url))
const PHONE_DARK = fileURLToPath(new URL('../../docs/screenshot-phone-dark.png', import.meta.url))

test('screenshot: the page after a Get, wide and light, phone and dark', async ({ openTab }) => {
  const tabs = await Promise.all([openTab(), openTab(), openTab(), openTab()])
  await Promise.all(tabs.map(async tab => await tab.connect()))
  const [a, b, , d] = tabs
  if (a == null || b == null || d == null) throw new Error('tabs')
  const dhtD = new DhtPanel(d.page)
  await new DhtPanel(a.page).put('greeting', 'hello from tab A')
  await new DhtPanel(b.page).put('greeting', 'hello again, from tab B')
  await expect(dhtD.routingPeers()).not.toHaveCount(0, { timeout: 20_000 })
  await dhtD.get('greeting')

  const page = d.page
  const layout = new PageLayout(page)
  await page.setViewportSize({ width: 1440, height: 900 })
  await page.emulateMedia({ colorScheme: 'light', reducedMotion: 'reduce' })
  const getRow = dhtD.lookupRows({ operation: 'get', status: 'done' }).first()
  await dhtD.lookupToggle(getRow).click()
  await expect(getRow.getByRole('button', { name: 'Export JSON', exact: true })).toBeVisible()
  const lookups = await layout.goToSection('Lookups')
  await expect(lookups).toBeInViewport()
  await page.mouse.move(0, 0)
  await page.screenshot({ path: WIDE })

  await page.setViewportSize({ width: 390, height: 844 })
  await page.emulateMedia({ colorScheme: 'dark', reducedMotion: 'reduce' })
  await layout.goToSection('DHT')
  await page.evaluate(() => { (document.activeElement as HTMLElement | null)?.blur() })
  await page.screenshot({ path: PHONE_DARK })
})
