import '../../relay/node20-polyfills.ts'
import { randomBytes } from 'node:crypto'
import { test, expect } from '../fixtures/test.ts'
import { ChatPanel } from '../pages/chat-panel.ts'
import { DhtPanel } from '../pages/dht-panel.ts'
import { FilesPanel } from '../pages/files-panel.ts'
import { PageLayout } from '../pages/layout.ts'
import { MapPanel } from '../pages/map-panel.ts'
import type { AxeFinding, WrappedButton } from '../pages/layout.ts'
import type { Page } from '@playwright/test'

/**
 * The page as a whole, connected to its own relay with the panels filled in (a second tab
 * found and chatted with, a Put and its lookup trace opened, a file shared): axe-core at 1440
 * and 390 px, light and dark, with no serious or critical finding; no sideways scroll and no
 * button label on two lines from 390 to 1920 px; the section index reaches every section;
 * every control is reached by Tab and shows a focus outline.
 */

const AXE_WIDTHS = [1440, 390]
const LAYOUT_WIDTHS = [390, 480, 768, 1024, 1280, 1440, 1920]
const SCHEMES = ['light', 'dark'] as const
/** The sections of the index, by link text and id. */
const SECTIONS = [
  ['Connect', 'connect'], ['Network', 'network'], ['DHT', 'dht'], ['Lookups', 'lookups'], ['Chat', 'chat'],
  ['Scheduler', 'scheduler'], ['Stored here', 'stored'], ['Files', 'files'], ['Network map', 'network-map']
] as const

interface Measured { scrollWidth: number, innerWidth: number, wrapped: WrappedButton[], axe: AxeFinding[], overflowing: string[] }

/** Tabs through the whole page; returns what each stop was and whether it drew a focus outline. */
async function tabThrough (page: Page, maxStops: number): Promise<Array<{ key: string, outlined: boolean }>> {
  // Start from the top of the document: focus a marker before everything (not itself a Tab stop).
  await page.evaluate(() => {
    const marker = document.createElement('span')
    marker.id = 'tab-walk-start'
    marker.tabIndex = -1
    document.body.prepend(marker)
    marker.focus()
  })
  const stops: Array<{ key: string, outlined: boolean }> = []
  for (let index = 0; index < maxStops; index++) {
    await page.keyboard.press('Tab')
    const stop = await page.evaluate(() => {
      const element = document.activeElement
      if (element == null || element === document.body) return null
      const style = getComputedStyle(element)
      const outlined = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 1
      return { key: element.getAttribute('data-tab-key') ?? '', outlined }
    })
    if (stop == null || (stops.length > 0 && stop.key === stops[0]?.key)) break
    stops.push(stop)
  }
  await page.evaluate(() => { document.getElementById('tab-walk-start')?.remove() })
  return stops
}

test('layout and accessibility at 390-1920 px, light and dark', async ({ openTab }) => {
  test.setTimeout(150_000)
  const [tab, other] = await Promise.all([openTab(), openTab()])
  await Promise.all([tab.connect(), other.connect()])
  const page = tab.page
  const layout = new PageLayout(page)
  const dht = new DhtPanel(page)
  const chat = new ChatPanel(page)
  const files = new FilesPanel(page)
  const otherId = await other.peerId()

  await test.step('fill the panels: Find peer, a Put and its trace, a chat, a shared file, a crawl with a key\'s holders', async () => {
    await tab.findPeer(otherId)
    await dht.put('a11y/check', 'a record, so the Put result, the lookup list and the ring fill in')
    await expect(dht.routingPeers()).not.toHaveCount(0, { timeout: 20_000 })
    const lookup = dht.lookupRows({ operation: 'put' }).first()
    await dht.lookupToggle(lookup).click()
    await expect(lookup.getByRole('button', { name: 'Export JSON', exact: true })).toBeVisible()
    await chat.openChat(otherId)
    await chat.send('hello, a message long enough to fill a line of the chat log at 390 px wide')
    await files.share('a11y-check.bin', randomBytes(64 * 1024))
    // The map with a crawl, a key's holders and a lookup chosen for replay.
    const map = new MapPanel(page)
    expect(await map.crawl()).toBe('done')
    expect((await map.holders('a11y/check')).length).toBeGreaterThan(0)
    await map.lookupSelect.selectOption({ index: 1 })
    await expect(map.replayStep).toHaveAttribute('data-step', '0')
  })

  const measured: Record<string, Measured> = {}
  await test.step('measure each width and colour scheme', async () => {
    for (const width of LAYOUT_WIDTHS) {
      for (const colorScheme of SCHEMES) {
        const withAxe = AXE_WIDTHS.includes(width)
        if (!withAxe && colorScheme === 'dark') continue
        await page.setViewportSize({ width, height: 900 })
        await page.emulateMedia({ colorScheme })
        const { scrollWidth, innerWidth } = await layout.pageWidths()
        const wrapped = await layout.wrappedButtons()
        const axe = withAxe ? await layout.axeFindings() : []
        const where = `${width} px ${colorScheme}`
        const overflowing = scrollWidth > innerWidth ? await layout.overflowing() : []
        measured[where] = { scrollWidth, innerWidth, wrapped, axe, overflowing }
        const byImpact = ['critical', 'serious', 'moderate', 'minor'].map(impact => `${impact} ${axe.filter(finding => finding.impact === impact).length}`).join(', ')
        console.log(`${where}: scrollWidth ${scrollWidth} / innerWidth ${innerWidth}, wrapped buttons ${wrapped.length}${withAxe ? `, axe: ${byImpact}` : ''}`)
        for (const finding of axe) console.log(`  axe ${finding.impact} ${finding.id} ×${finding.nodes}: ${finding.targets.map((target, index) => `${target} (${finding.messages[index] ?? ''})`).join(' | ')}`)
        for (const button of wrapped) console.log(`  wrapped "${button.text}" on ${button.lines} lines, ${button.width} px wide`)
      }
    }
  })
  for (const [where, result] of Object.entries(measured)) {
    expect.soft(result.scrollWidth, `${where}: no sideways scroll (past the edge: ${result.overflowing.join(' | ')})`).toBeLessThanOrEqual(result.innerWidth)
    expect.soft(result.wrapped, `${where}: no button label on two lines`).toEqual([])
    expect.soft(result.axe.filter(finding => finding.impact === 'serious' || finding.impact === 'critical'), `${where}: serious or critical axe findings`).toEqual([])
  }

  await test.step('the section index reaches every section and moves focus there', async () => {
    await page.setViewportSize({ width: 1440, height: 900 })
    await page.emulateMedia({ colorScheme: 'light' })
    await expect(layout.sectionLinks).toHaveText(SECTIONS.map(([name]) => name))
    for (const [name, id] of SECTIONS) {
      const section = await layout.goToSection(name)
      await expect(section).toHaveAttribute('id', id)
      await expect(section).toBeFocused()
      await expect(section).toBeInViewport()
      await expect(layout.sectionLink(name)).toHaveAttribute('aria-current', 'location')
    }
    // Scrolled by the reader (a wheel ends the chosen link's hold), the mark follows the section in view.
    for (const [name, id] of [['Scheduler', 'scheduler'], ['DHT', 'dht']] as const) {
      await page.mouse.wheel(0, -1)
      await page.locator(`#${id}`).evaluate(section => { section.scrollIntoView({ block: 'start' }) })
      await expect(layout.sectionLink(name)).toHaveAttribute('aria-current', 'location')
      await expect(layout.sectionNav.locator('[aria-current]')).toHaveCount(1)
    }
  })

  await test.step('Tab reaches every control, each with a focus outline', async () => {
    await page.setViewportSize({ width: 1440, height: 900 })
    // Every rendered, enabled control gets a key, so the Tab order can be compared with them all.
    const controls = await page.evaluate(() => {
      const selector = 'a[href], button:not(:disabled), input:not(:disabled), select:not(:disabled), textarea:not(:disabled), [tabindex="0"]'
      const keys: string[] = []
      for (const [index, element] of Array.from(document.querySelectorAll(selector)).entries()) {
        if (element.getClientRects().length === 0 || element.closest('[inert]') != null) continue
        element.setAttribute('data-tab-key', String(index))
        keys.push(`${index} ${element.tagName.toLowerCase()} ${element.getAttribute('aria-label') ?? (element.textContent ?? '').trim().slice(0, 30)}`)
      }
      return keys
    })
    const stops = await tabThrough(page, controls.length + 20)
    const reached = new Set(stops.map(stop => stop.key))
    const unreached = controls.filter(control => !reached.has(control.split(' ')[0] ?? ''))
    console.log(`Tab: ${stops.length} stops, ${controls.length} controls, unreached: ${unreached.join('; ') || 'none'}`)
    expect(unreached, 'controls Tab never reaches').toEqual([])
    const unmarked = stops.filter(stop => !stop.outlined).map(stop => controls.find(control => control.startsWith(`${stop.key} `)) ?? stop.key)
    expect(unmarked, 'focused controls without a visible outline').toEqual([])
  })
})
