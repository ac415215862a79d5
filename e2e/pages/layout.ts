import AxeBuilder from '@axe-core/playwright'
import type { Locator, Page } from '@playwright/test'

export type AxeImpact = 'minor' | 'moderate' | 'serious' | 'critical'

/** One axe-core rule that failed, with the first few elements it failed on. */
export interface AxeFinding { id: string, impact: AxeImpact | 'unknown', nodes: number, targets: string[], messages: string[] }

/** A button whose label runs over more than one line box, e.g. "Co" / "py". */
export interface WrappedButton { text: string, lines: number, width: number }

/**
 * The page as a whole: the section index, and the measurements the a11y spec takes at each
 * width (sideways scroll, wrapped buttons, axe-core).
 */
export class PageLayout {
  readonly page: Page

  constructor (page: Page) {
    this.page = page
  }

  get sectionNav (): Locator { return this.page.getByRole('navigation', { name: 'Sections', exact: true }) }
  get sectionLinks (): Locator { return this.sectionNav.getByRole('link') }

  /** The section index's link to a section, by its text (e.g. "Chat"). */
  sectionLink (name: string): Locator { return this.sectionNav.getByRole('link', { name, exact: true }) }

  /** Follows the index's link to a section; returns the section it targets (by its id). */
  async goToSection (name: string): Promise<Locator> {
    const link = this.sectionLink(name)
    const href = await link.getAttribute('href')
    if (href == null || !/^#[\w-]+$/.test(href)) throw new Error(`section link ${name} has no in-page target: ${href ?? 'no href'}`)
    await link.click()
    return this.page.locator(href)
  }

  /** The document's width beside the viewport's: scrollWidth > innerWidth means sideways scroll. */
  async pageWidths (): Promise<{ scrollWidth: number, innerWidth: number }> {
    return await this.page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }))
  }

  /** The innermost elements that reach past the viewport's right edge (what makes the page scroll sideways). */
  async overflowing (limit = 5): Promise<string[]> {
    return await this.page.evaluate((limit) => {
      const width = window.innerWidth
      // Inside a box that clips or scrolls sideways (the section index), overflow stays in that box.
      const clipped = (element: Element): boolean => {
        for (let parent = element.parentElement; parent != null && parent !== document.body; parent = parent.parentElement) if (getComputedStyle(parent).overflowX !== 'visible') return true
        return false
      }
      const past = Array.from(document.querySelectorAll('body *')).filter(element => element.getBoundingClientRect().right > width + 1 && !clipped(element))
      const innermost = past.filter(element => !past.some(other => other !== element && element.contains(other)))
      return innermost.slice(0, limit).map(element => {
        const box = element.getBoundingClientRect()
        const label = element.getAttribute('aria-label') ?? element.closest('[aria-label]')?.getAttribute('aria-label') ?? ''
        return `<${element.tagName.toLowerCase()}${element.className !== '' ? ` class="${String(element.className)}"` : ''}> in "${label}" ${Math.round(box.left)}-${Math.round(box.right)} px: ${(element.textContent ?? '').trim().slice(0, 60)}`
      })
    }, limit)
  }

  /**
   * Rendered buttons whose label takes more than one line box. Action buttons (Copy, Put, Run
   * now) are inline boxes of text; buttons laid out as flex or grid are rows of content (a
   * lookup in the list, a conversation) that may wrap by design, and are left out. Text that
   * is visually hidden (a 1 px box, for screen readers) is not counted.
   */
  async wrappedButtons (): Promise<WrappedButton[]> {
    return await this.page.evaluate(() => {
      const wrapped: Array<{ text: string, lines: number, width: number }> = []
      for (const button of Array.from(document.querySelectorAll('button'))) {
        const display = getComputedStyle(button).display
        if (button.getClientRects().length === 0 || /flex|grid/.test(display)) continue
        const tops = new Set<number>()
        const walker = document.createTreeWalker(button, NodeFilter.SHOW_TEXT)
        for (let node = walker.nextNode(); node != null; node = walker.nextNode()) {
          const parent = node.parentElement
          if ((node.textContent ?? '').trim() === '' || parent == null || parent.getBoundingClientRect().width <= 1) continue
          const range = document.createRange()
          range.selectNodeContents(node)
          // One rect per line box the text takes: the tops of a wrapped label differ.
          for (const rect of Array.from(range.getClientRects())) if (rect.width > 0) tops.add(Math.round(rect.top))
        }
        if (tops.size > 1) wrapped.push({ text: (button.textContent ?? '').trim(), lines: tops.size, width: Math.round(button.getBoundingClientRect().width) })
      }
      return wrapped
    })
  }

  /** Every axe-core finding (all impacts), WCAG 2.x A/AA rules and best practices. */
  async axeFindings (): Promise<AxeFinding[]> {
    const results = await new AxeBuilder({ page: this.page }).analyze()
    return results.violations.map(violation => ({
      id: violation.id,
      impact: violation.impact ?? 'unknown',
      nodes: violation.nodes.length,
      targets: violation.nodes.slice(0, 5).map(node => node.target.join(' ')),
      messages: violation.nodes.slice(0, 5).map(node => [...node.any, ...node.all, ...node.none].map(check => check.message).join('; '))
    }))
  }
}
