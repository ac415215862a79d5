import { lazyPanel } from '../common/lazy-panel.tsx'

/** The Stored-here panel, lazily. */
export const StoredHereSection = lazyPanel('Stored here', async () => (await import('./stored-here-panel.tsx')).StoredHerePanel, { wide: true })
