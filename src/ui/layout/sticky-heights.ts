import { useEffect } from 'react'

/**
 * Publishes the rendered heights of the sticky header and section index as CSS custom
 * properties on the root (`--header-height`, `--index-height`), so sections scrolled to land
 * below them and sticky content inside panels sits under them, at any width (both wrap).
 */
export function useStickyHeights (header: React.RefObject<HTMLElement | null>, index: React.RefObject<HTMLElement | null>): void {
  useEffect(() => {
    const root = document.documentElement
    const elements: Array<[HTMLElement | null, string]> = [[header.current, '--header-height'], [index.current, '--index-height']]
    const observer = new ResizeObserver(() => {
      for (const [element, property] of elements) {
        if (element != null) root.style.setProperty(property, `${Math.ceil(element.getBoundingClientRect().height)}px`)
      }
    })
    for (const [element] of elements) if (element != null) observer.observe(element)
    return () => { observer.disconnect() }
  }, [header, index])
}
