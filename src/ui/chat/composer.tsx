import { useRef, useState } from 'react'
import { ErrorMessage } from '../common/error-message.tsx'
import { toOperationError } from '../hooks/use-operation.ts'
import { utf8ByteLength } from '../common/format.ts'
import { MAX_CHAT_TEXT_BYTES } from '../../p2p/services/chat/index.ts'
import type { OperationError } from '../hooks/use-operation.ts'
import type { WebkadSession } from '../../p2p/session.ts'

/** Unsent text per conversation, kept while the user switches between conversations. */
const drafts = new Map<string, string>()

/** The id of the message field, so `openChatWith` callers can have it focused. */
export const COMPOSER_ID = 'chat-message'

/** What the composer uses of the session (tests pass a fake with just this). */
export type ComposerSession = Pick<WebkadSession, 'sendChat'>

/**
 * Message field and Send. Enter sends, Shift+Enter adds a line. The text leaves the field only
 * once the core has stored the message in its outbox; on any error it stays (nothing is lost).
 * Length is checked by the core, not here: over 16 KiB Send shows its MessageTooLongError.
 */
export function Composer ({ session, peer }: { session: ComposerSession, peer: string }): React.JSX.Element {
  const [text, setText] = useState(() => drafts.get(peer) ?? '')
  const [error, setError] = useState<OperationError>()
  const latest = useRef(text)
  const pending = useRef(new Set<string>())
  const bytes = utf8ByteLength(text)
  const over = bytes > MAX_CHAT_TEXT_BYTES

  const change = (value: string): void => {
    latest.current = value
    setText(value)
    if (value === '') drafts.delete(peer)
    else drafts.set(peer, value)
  }

  const send = async (): Promise<void> => {
    const sent = latest.current
    // Enter held down repeats the key: one message, not several copies of it.
    if (pending.current.has(sent)) return
    pending.current.add(sent)
    try {
      // Sends may overlap (type, Enter, type, Enter): the core numbers them in call order.
      await session.sendChat(peer, sent)
      setError(undefined)
      // Keep anything typed while the message was being stored.
      const current = latest.current
      change(current === sent ? '' : current.startsWith(sent) ? current.slice(sent.length) : current)
    } catch (err) {
      setError(toOperationError(err))
    } finally {
      pending.current.delete(sent)
    }
  }

  return (
    <form className="chat-composer" onSubmit={(event) => { event.preventDefault(); void send() }}>
      <label htmlFor={COMPOSER_ID}>Message</label>
      <textarea
        id={COMPOSER_ID}
        rows={3}
        value={text}
        placeholder="Write a message"
        aria-describedby="chat-message-hint"
        aria-invalid={over || undefined}
        onChange={(event) => { change(event.target.value); setError(undefined) }}
        onKeyDown={(event) => {
          if (event.key !== 'Enter' || event.shiftKey || event.nativeEvent.isComposing) return
          event.preventDefault()
          // An accidental Enter in an empty field sends nothing; the Send button asks the core.
          if (text.trim() !== '') void send()
        }}
      />
      <div className="chat-composer-row">
        <p id="chat-message-hint" className="hint">
          <span className={`chat-bytes${over ? ' over' : ''}`} data-testid="chat-byte-count" data-bytes={bytes}>
            {bytes.toLocaleString()} / {MAX_CHAT_TEXT_BYTES.toLocaleString()} bytes{over && ' (over the 16 KiB limit)'}
          </span>
          {' · '}Enter sends, Shift+Enter adds a line
        </p>
        <button type="submit">Send</button>
      </div>
      {error != null && <ErrorMessage error={error} headline="Not sent" />}
    </form>
  )
}
