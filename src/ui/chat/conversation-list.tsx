import { useState } from 'react'
import { ErrorMessage } from '../common/error-message.tsx'
import { shortPeerId } from '../common/format.ts'
import { formatFullTime, formatMessageTime, PATH_TEXT, previewText } from './chat-format.ts'
import { toOperationError } from '../hooks/use-operation.ts'
import { openChatWith } from './chat-selection.ts'
import type { OperationError } from '../hooks/use-operation.ts'
import type { Conversation } from '../../p2p/services/chat/index.ts'
import type { WebkadSession } from '../../p2p/session.ts'

/** "Start a chat" form and the conversations, newest activity first. */
export function ConversationList ({ session, conversations, selectedPeer, onSelect }: {
  session: WebkadSession
  conversations: readonly Conversation[]
  selectedPeer: string | undefined
  onSelect: (peer: string) => void
}): React.JSX.Element {
  return (
    <div className="chat-sidebar">
      <StartChatForm session={session} />
      {conversations.length === 0
        ? <p className="hint">No conversations yet. Paste a peer ID above, or use Chat on a Find peer result.</p>
        : (
          <ul className="chat-conversations" aria-label="Conversations">
            {conversations.map(conversation => (
              <li key={conversation.peer}>
                <ConversationButton conversation={conversation} selected={conversation.peer === selectedPeer} onSelect={onSelect} />
              </li>
            ))}
          </ul>
          )}
    </div>
  )
}

function StartChatForm ({ session }: { session: WebkadSession }): React.JSX.Element {
  const [peerId, setPeerId] = useState('')
  const [error, setError] = useState<OperationError>()
  const open = (): void => {
    try {
      openChatWith(session, peerId)
      setPeerId('')
      setError(undefined)
    } catch (err) {
      setError(toOperationError(err))
    }
  }
  return (
    <form className="chat-start" aria-labelledby="chat-start-title" onSubmit={(event) => { event.preventDefault(); open() }}>
      <h3 id="chat-start-title">Start a chat</h3>
      <label htmlFor="chat-peer-id">Peer ID to chat with</label>
      <div className="chat-start-row">
        <input
          id="chat-peer-id"
          spellCheck={false}
          autoComplete="off"
          value={peerId}
          placeholder="12D3Koo…"
          onChange={(event) => { setPeerId(event.target.value) }}
        />
        <button type="submit">Open chat</button>
      </div>
      {error != null && <ErrorMessage error={error} headline="Cannot open the chat" />}
    </form>
  )
}

function ConversationButton ({ conversation, selected, onSelect }: {
  conversation: Conversation
  selected: boolean
  onSelect: (peer: string) => void
}): React.JSX.Element {
  const last = conversation.messages.at(-1)
  const retrying = conversation.messages.some(message => message.state === 'retrying')
  return (
    <button
      type="button"
      className={`chat-conversation${selected ? ' selected' : ''}`}
      aria-current={selected ? 'true' : undefined}
      data-testid="chat-conversation"
      data-peer={conversation.peer}
      data-unread={conversation.unread}
      title={conversation.peer}
      onClick={() => { onSelect(conversation.peer) }}
    >
      <span className="chat-conversation-head">
        {conversation.nickname != null && <span className="chat-nickname">{conversation.nickname}</span>}
        <code>{shortPeerId(conversation.peer)}</code>
        {conversation.unread > 0 && (
          <span className="chat-unread">{conversation.unread}<span className="chat-sr"> unread</span></span>
        )}
      </span>
      <span className="chat-conversation-meta">
        {conversation.path != null && <span className={`chat-path chat-path-${conversation.path}`}>{PATH_TEXT[conversation.path]}</span>}
        {retrying && <span className="chat-retrying">not delivered yet</span>}
        {last != null && <time dateTime={new Date(conversation.lastActivity).toISOString()} title={formatFullTime(conversation.lastActivity)}>{formatMessageTime(conversation.lastActivity)}</time>}
      </span>
      <span className="chat-preview">
        {last == null ? <em>no messages yet</em> : <>{last.direction === 'out' && 'You: '}{previewText(last.text)}</>}
      </span>
    </button>
  )
}
