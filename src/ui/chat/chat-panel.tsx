import { useEffect, useMemo, useRef } from 'react'
import { useStore } from '../hooks/use-store.ts'
import { chatSelection, selectConversation } from './chat-selection.ts'
import { COMPOSER_ID } from './composer.tsx'
import { ConversationList } from './conversation-list.tsx'
import { MessageView } from './message-view.tsx'
import type { Conversation } from '../../p2p/services/chat/index.ts'
import type { WebkadSession } from '../../p2p/session.ts'

/** Conversations, the selected one's messages with delivery states, and the composer. */
export function ChatPanel ({ session }: { session: WebkadSession }): React.JSX.Element {
  const conversations = useStore(session.conversations)
  const { status } = useStore(session.state)
  const selection = useStore(chatSelection)
  const section = useRef<HTMLElement>(null)
  const { openedPeers } = selection
  // The core also lists an empty conversation for every peer the node merely connected to (the
  // relay, DHT peers); only those with messages, a nickname or opened here are conversations.
  const shown = useMemo(() => conversations.filter(conversation =>
    conversation.messages.length > 0 || conversation.nickname != null || openedPeers.has(conversation.peer)), [conversations, openedPeers])
  const found = shown.find(conversation => conversation.peer === selection.peer)
  // Just opened: shown at once, before the core's list (published a moment later) has it.
  const opened = useMemo(() => selection.peer != null && openedPeers.has(selection.peer) ? emptyConversation(selection.peer) : undefined, [selection.peer, openedPeers])
  const conversation = found ?? (status !== 'offline' ? opened : undefined)
  const unread = shown.reduce((total, entry) => total + entry.unread, 0)

  // openChatWith (from here or another panel) brings the composer into view.
  useEffect(() => {
    if (selection.focusRequest === 0) return
    section.current?.scrollIntoView({ block: 'nearest', behavior: 'smooth' })
    document.getElementById(COMPOSER_ID)?.focus({ preventScroll: true })
  }, [selection.focusRequest])

  const select = (peer: string): void => {
    selectConversation(peer)
    session.markChatRead(peer).catch(() => { /* offline: stays unread */ })
  }

  return (
    <section ref={section} className="panel wide chat-panel" aria-labelledby="chat-title">
      <div className="chat-title-row">
        <h2 id="chat-title">Chat</h2>
        {unread > 0 && <span className="count" data-testid="chat-unread-total">{unread.toLocaleString()} unread</span>}
      </div>
      <div className="chat-layout">
        <ConversationList session={session} conversations={shown} selectedPeer={conversation?.peer} onSelect={select} />
        {conversation != null
          ? <MessageView key={conversation.peer} session={session} conversation={conversation} />
          : (
            <p className="hint chat-placeholder">
              {status === 'offline' && shown.length === 0
                ? 'Connect to a relay to chat. History and the outbox are kept per tab identity and load on Connect.'
                : 'Select a conversation, or start one with a peer ID.'}
            </p>
            )}
      </div>
    </section>
  )
}

function emptyConversation (peer: string): Conversation {
  return { peer, messages: [], unread: 0, lastActivity: 0 }
}
