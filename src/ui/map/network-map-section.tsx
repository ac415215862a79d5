import { lazyPanel } from '../common/lazy-panel.tsx'

/** The Network map section, lazily: the crawl UI, the map and its file handling load only with it. */
export const NetworkMapSection = lazyPanel('Network map', async () => (await import('./network-map-panel.tsx')).NetworkMapPanel, { id: 'network-map' })
