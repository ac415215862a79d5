import { lazyPanel } from '../common/lazy-panel.tsx'

/** The Scheduler panel, lazily. */
export const SchedulerSection = lazyPanel('Scheduler', async () => (await import('./scheduler-panel.tsx')).SchedulerPanel, { wide: true })
