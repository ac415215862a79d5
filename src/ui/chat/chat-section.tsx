import { Suspense, lazy } from 'react'
import type { WebkadSession } from '../../p2p/session.ts'

const ChatPanel = lazy(async () => await import('./chat-panel.tsx').then(module => ({ default: module.ChatPanel })))

/**
 * The Chat panel, loaded after the first render (its own chunk), so the initial bundle stays
 * small. Messages are the core's (session.conversations): none arrive or wait on this chunk.
 */
export function ChatSection ({ session }: { session: WebkadSession }): React.JSX.Element {
  return (
    <Suspense fallback={<section className="panel wide" aria-label="Chat"><h2>Chat</h2><p className="hint">Loading…</p></section>}>
      <ChatPanel session={session} />
    </Suspense>
  )
}
