import { useEffect, useState } from 'react'
import { CopyButton } from '../common/copy-button.tsx'
import { ErrorMessage } from '../common/error-message.tsx'
import { shortPeerId } from '../common/format.ts'
import { PATH_TEXT } from './chat-format.ts'
import { toOperationError } from '../hooks/use-operation.ts'
import { Composer } from './composer.tsx'
import { MessageList } from './message-list.tsx'
import type { OperationError } from '../hooks/use-operation.ts'
import type { Conversation } from '../../p2p/services/chat/index.ts'
import type { WebkadSession } from '../../p2p/session.ts'

/**
 * One conversation: who it is with, its messages and the composer. Mount it with
 * `key={conversation.peer}` so drafts, paging and scroll state belong to one peer.
 */
export function MessageView ({ session, conversation }: { session: WebkadSession, conversation: Conversation }): React.JSX.Element {
  const { peer, unread } = conversation
  const name = conversation.nickname ?? shortPeerId(peer)

  // Messages that arrive while the conversation is open count as read, once the tab is visible.
  useEffect(() => {
    if (unread === 0) return
    const markIfVisible = (): void => {
      if (document.visibilityState === 'visible') session.markChatRead(peer).catch(() => { /* offline: stays unread */ })
    }
    markIfVisible()
    document.addEventListener('visibilitychange', markIfVisible)
    return () => { document.removeEventListener('visibilitychange', markIfVisible) }
  }, [session, peer, unread])

  return (
    <div className="chat-view">
      <div className="chat-view-head">
        <div className="chat-peer">
          <span className="chat-peer-name">{conversation.nickname != null && <strong>{conversation.nickname} </strong>}</span>
          <code className="chat-peer-id" title={peer}>{peer}</code>
          <CopyButton text={peer} label="Copy the chat peer's ID" />
          <span className="hint chat-peer-path" data-testid="chat-path" data-path={conversation.path ?? 'unknown'}>
            {conversation.path != null ? PATH_TEXT[conversation.path] : 'no exchange yet'}
          </span>
        </div>
        <NicknameField session={session} peer={peer} nickname={conversation.nickname} />
      </div>
      <RetryBar session={session} conversation={conversation} />
      <MessageList messages={conversation.messages} label={`Messages with ${name}`} />
      <Composer session={session} peer={peer} />
    </div>
  )
}

/** Saved on blur or Enter; the core trims it and keeps at most 40 characters. */
function NicknameField ({ session, peer, nickname }: { session: WebkadSession, peer: string, nickname: string | undefined }): React.JSX.Element {
  const [draft, setDraft] = useState(nickname ?? '')
  const [error, setError] = useState<OperationError>()
  const save = (): void => {
    if (draft.trim() === (nickname ?? '')) return
    session.setNickname(peer, draft).then(
      () => { setError(undefined) },
      (err: unknown) => { setError(toOperationError(err)) }
    )
  }
  return (
    <div className="chat-nickname-field">
      <label htmlFor="chat-nickname">Nickname for this peer</label>
      <input
        id="chat-nickname"
        autoComplete="off"
        maxLength={40}
        value={draft}
        placeholder="optional, only you see it"
        onChange={(event) => { setDraft(event.target.value) }}
        onBlur={save}
        onKeyDown={(event) => {
          if (event.key !== 'Enter') return
          event.preventDefault()
          save()
        }}
      />
      {error != null && <ErrorMessage error={error} headline="Nickname not saved" />}
    </div>
  )
}

/** Shown while outgoing messages wait for a retry: why, and a way to try at once. */
function RetryBar ({ session, conversation }: { session: WebkadSession, conversation: Conversation }): React.JSX.Element | null {
  const [error, setError] = useState<OperationError>()
  const retrying = conversation.messages.filter(message => message.state === 'retrying')
  if (retrying.length === 0) return null
  const lastError = retrying.at(-1)?.lastError
  const retry = (): void => {
    try {
      session.retryChat()
      setError(undefined)
    } catch (err) {
      setError(toOperationError(err))
    }
  }
  return (
    <div className="chat-retry">
      <p>
        <span role="status">{retrying.length === 1 ? '1 message is' : `${retrying.length.toLocaleString()} messages are`} not delivered yet</span>
        {lastError != null && <span className="hint" title={lastError}>: {lastError}</span>}
      </p>
      <button type="button" onClick={retry}>Retry now</button>
      {error != null && <ErrorMessage error={error} headline="Cannot retry" />}
    </div>
  )
}
