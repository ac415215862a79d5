import { lazyPanel } from '../common/lazy-panel.tsx'

/** The Files panel, lazily: UnixFS, the importer and IndexedDB block storage load only with it. */
export const FilesSection = lazyPanel('Files', async () => (await import('./files-panel.tsx')).FilesPanel)
