import { lazyPanel } from '../common/lazy-panel.tsx'

/** The Chat panel, lazily. Messages are the core's (session.conversations): none arrive or wait on this chunk. */
export const ChatSection = lazyPanel('Chat', async () => (await import('./chat-panel.tsx')).ChatPanel, { wide: true })
