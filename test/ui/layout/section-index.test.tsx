// @vitest-environment jsdom
import { cleanup, render, screen } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { SectionIndex } from '../../../src/ui/layout/section-index.tsx'

const SECTIONS = [{ id: 'connect', title: 'Connect' }, { id: 'chat', title: 'Chat' }, { id: 'network-map', title: 'Network map' }]

/** The index and the sections it links to: two focusable groups, and one element without a tabindex (as a panel of its own). */
function renderPage (): { scrolled: string[] } {
  const scrolled: string[] = []
  // jsdom lays nothing out (and has no scrollIntoView): record the scroll the index asks for instead.
  Object.defineProperty(Element.prototype, 'scrollIntoView', { configurable: true, value (this: Element) { scrolled.push(this.id) } })
  render(
    <>
      <SectionIndex sections={SECTIONS} />
      <div id="connect" tabIndex={-1}>connect</div>
      <div id="chat" tabIndex={-1}>chat</div>
      <section id="network-map" aria-label="Network map">map</section>
    </>
  )
  return { scrolled }
}

beforeEach(() => {
  vi.stubGlobal('matchMedia', (query: string) => ({ matches: false, media: query, addEventListener () {}, removeEventListener () {} }))
})
afterEach(() => {
  cleanup()
  Reflect.deleteProperty(Element.prototype, 'scrollIntoView')
  vi.unstubAllGlobals()
})

describe('SectionIndex', () => {
  it('is a navigation landmark of in-page links, one per section, in order', () => {
    renderPage()
    const links = screen.getAllByRole('link')
    expect(screen.getByRole('navigation', { name: 'Sections' })).toBeTruthy()
    expect(links.map(link => [link.textContent, link.getAttribute('href')])).toEqual([['Connect', '#connect'], ['Chat', '#chat'], ['Network map', '#network-map']])
  })

  it('a link scrolls its section in, moves focus there and marks itself current; the URL is left alone', async () => {
    const user = userEvent.setup()
    const { scrolled } = renderPage()
    const before = window.location.href
    await user.click(screen.getByRole('link', { name: 'Chat' }))
    expect(scrolled).toEqual(['chat'])
    expect(document.activeElement?.id).toBe('chat')
    expect(screen.getByRole('link', { name: 'Chat' }).getAttribute('aria-current')).toBe('location')
    expect(screen.getByRole('link', { name: 'Connect' }).getAttribute('aria-current')).toBeNull()
    expect(window.location.href).toBe(before)
  })

  it('works from the keyboard, and makes a section without a tabindex focusable without putting it in the Tab order', async () => {
    const user = userEvent.setup()
    renderPage()
    screen.getByRole('link', { name: 'Network map' }).focus()
    await user.keyboard('{Enter}')
    const map = screen.getByRole('region', { name: 'Network map' })
    expect(document.activeElement).toBe(map)
    expect(map.getAttribute('tabindex')).toBe('-1')
  })

  it('leaves a modified click (new tab) to the browser', async () => {
    const user = userEvent.setup()
    const { scrolled } = renderPage()
    await user.keyboard('{Control>}')
    await user.click(screen.getByRole('link', { name: 'Chat' }))
    await user.keyboard('{/Control}')
    expect(scrolled).toEqual([])
    expect(document.activeElement?.id).not.toBe('chat')
  })
})
