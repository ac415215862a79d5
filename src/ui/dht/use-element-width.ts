import { useCallback, useState } from 'react'

/**
 * The rendered width of an element, kept current by a ResizeObserver, so a drawing can use
 * real pixels for its coordinates and its text stays legible at any window size.
 */
export function useElementWidth (fallback: number): [measureRef: (element: HTMLElement | null) => (() => void) | undefined, width: number] {
  const [width, setWidth] = useState(fallback)
  const ref = useCallback((element: HTMLElement | null) => {
    if (element == null) return undefined
    const observer = new ResizeObserver((entries) => {
      const measured = entries[0]?.contentRect.width
      if (measured != null && measured > 0) setWidth(Math.round(measured))
    })
    observer.observe(element)
    return () => { observer.disconnect() }
  }, [])
  return [ref, width]
}
