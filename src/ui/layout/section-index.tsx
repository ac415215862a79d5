import { useCallback, useEffect, useRef, useState } from 'react'

/** A part of the page the index links to: the element with this id. */
export interface PageSection { id: string, title: string }

/** How long a section chosen in the index stays current while the page scrolls to it. */
const CHOSEN_PIN_MS = 1500

/**
 * The section index: in-page links, sticky under the header. Every section stays rendered (no
 * hidden tabs), so find-in-page, tests and screen readers see the whole page; a link scrolls
 * its section into view and moves focus there, and the link of the section in view is marked
 * `aria-current="location"`.
 */
export function SectionIndex ({ sections }: { sections: readonly PageSection[] }): React.JSX.Element {
  const [current, setCurrent] = useState<string>()
  const nav = useRef<HTMLElement>(null)
  const pinnedUntil = useRef(0)
  const currentRef = useRef<string>(undefined)
  useEffect(() => { currentRef.current = current }, [current])

  // The section in view: the last one whose top has passed under the sticky bars.
  useEffect(() => {
    let frame = 0
    const update = (): void => {
      frame = 0
      if (Date.now() < pinnedUntil.current) return
      const line = (nav.current?.getBoundingClientRect().bottom ?? 0) + 24
      let inView: string | undefined
      for (const section of sections) {
        const top = document.getElementById(section.id)?.getBoundingClientRect().top
        if (top != null && top <= line) inView = section.id
      }
      // Scrolled to the end, a short section chosen earlier may never reach the top: keep it while it shows.
      const atEnd = window.scrollY + window.innerHeight >= document.documentElement.scrollHeight - 2
      const chosenTop = currentRef.current == null ? undefined : document.getElementById(currentRef.current)?.getBoundingClientRect().top
      if (atEnd && chosenTop != null && chosenTop > line && chosenTop < window.innerHeight) return
      setCurrent(inView ?? sections[0]?.id)
    }
    const schedule = (): void => { if (frame === 0) frame = requestAnimationFrame(update) }
    const unpin = (): void => { pinnedUntil.current = 0; schedule() }
    schedule()
    window.addEventListener('scroll', schedule, { passive: true })
    window.addEventListener('resize', schedule)
    // A wheel or touch ends the pin at once: the reader has moved on.
    window.addEventListener('wheel', unpin, { passive: true })
    window.addEventListener('touchmove', unpin, { passive: true })
    return () => {
      if (frame !== 0) cancelAnimationFrame(frame)
      window.removeEventListener('scroll', schedule)
      window.removeEventListener('resize', schedule)
      window.removeEventListener('wheel', unpin)
      window.removeEventListener('touchmove', unpin)
    }
  }, [sections])

  // On a narrow screen the index scrolls sideways: keep the current link in it.
  useEffect(() => {
    const list = nav.current?.querySelector('ul')
    const link = current == null ? null : list?.querySelector<HTMLElement>(`a[href="#${current}"]`)
    if (list == null || link == null) return
    const left = link.offsetLeft - list.offsetLeft
    if (left < list.scrollLeft || left + link.offsetWidth > list.scrollLeft + list.clientWidth) {
      list.scrollTo({ left: Math.max(0, left - 16) })
    }
  }, [current])

  const go = useCallback((event: React.MouseEvent<HTMLAnchorElement>, id: string) => {
    // New tab / window: leave the link to the browser.
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return
    const target = document.getElementById(id)
    if (target == null) return
    // The URL is left alone: its hash carries a shared file's link (#cid=…).
    event.preventDefault()
    if (!target.hasAttribute('tabindex')) target.setAttribute('tabindex', '-1')
    const reduceMotion = window.matchMedia('(prefers-reduced-motion: reduce)').matches
    target.scrollIntoView({ block: 'start', behavior: reduceMotion ? 'auto' : 'smooth' })
    target.focus({ preventScroll: true })
    pinnedUntil.current = Date.now() + CHOSEN_PIN_MS
    setCurrent(id)
  }, [])

  return (
    <nav ref={nav} className="section-index" aria-label="Sections">
      <ul>
        {sections.map(section => (
          <li key={section.id}>
            <a href={`#${section.id}`} aria-current={current === section.id ? 'location' : undefined} onClick={(event) => { go(event, section.id) }}>
              {section.title}
            </a>
          </li>
        ))}
      </ul>
    </nav>
  )
}
