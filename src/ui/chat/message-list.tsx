import { memo, useLayoutEffect, useRef, useState } from 'react'
import { DELIVERY_TEXT, formatFullTime, formatMessageTime } from './chat-format.ts'
import type { ChatMessage } from '../../p2p/services/chat/index.ts'

/** Messages rendered at once; older ones come in pages of this size on request. */
export const MESSAGE_PAGE_SIZE = 500
/** Within this many pixels of the end counts as "at the bottom". */
const BOTTOM_SLACK_PX = 32

/** Where the reader was: a message, its distance from the top of the viewport, and the scroll offset then. */
interface ScrollAnchor { key: string, offset: number, scrollTop: number }

/**
 * The last MESSAGE_PAGE_SIZE messages of a conversation (more on request). Stays pinned to the
 * newest message while the reader is at the bottom; otherwise keeps the message being read in
 * place while the window slides or earlier messages are added above it.
 */
export function MessageList ({ messages, label }: { messages: readonly ChatMessage[], label: string }): React.JSX.Element {
  const [shown, setShown] = useState(MESSAGE_PAGE_SIZE)
  const [atBottom, setAtBottom] = useState(true)
  const scroller = useRef<HTMLDivElement>(null)
  const list = useRef<HTMLOListElement>(null)
  // Geometry as of the last render, to tell where the reader was before new content arrived.
  const renderedHeight = useRef<number | undefined>(undefined)
  const anchor = useRef<ScrollAnchor | undefined>(undefined)
  const lastOwnKey = useRef<string | undefined>(undefined)
  const visible = messages.length > shown ? messages.slice(-shown) : messages
  const hidden = messages.length - visible.length

  // Before paint, so the reader never sees the list jump.
  useLayoutEffect(() => {
    const element = scroller.current
    if (element == null) return
    // Measured against the height before this render, not a flag from the last scroll event,
    // which may not have been delivered yet when a burst re-renders within the same frame.
    const previousHeight = renderedHeight.current
    const wasAtBottom = previousHeight == null || previousHeight - element.scrollTop - element.clientHeight <= BOTTOM_SLACK_PX
    const last = messages.at(-1)
    const ownNew = last?.direction === 'out' && messageKey(last) !== lastOwnKey.current
    if (last?.direction === 'out') lastOwnKey.current = messageKey(last)
    if (wasAtBottom || ownNew) {
      element.scrollTop = element.scrollHeight
    } else if (anchor.current != null && anchor.current.scrollTop === element.scrollTop) {
      // (A scroll whose event has not arrived yet makes the anchor stale: then leave it be.)
      const item = list.current?.querySelector<HTMLElement>(`[data-key="${anchor.current.key}"]`)
      if (item != null) element.scrollTop = item.offsetTop - anchor.current.offset
    }
    renderedHeight.current = element.scrollHeight
    anchor.current = findAnchor(element, list.current)
  }, [messages, shown])

  const onScroll = (): void => {
    const element = scroller.current
    if (element == null) return
    anchor.current = findAnchor(element, list.current)
    setAtBottom(element.scrollHeight - element.scrollTop - element.clientHeight <= BOTTOM_SLACK_PX)
  }

  const jumpToLatest = (): void => {
    const element = scroller.current
    if (element != null) element.scrollTop = element.scrollHeight
  }

  return (
    <div className="chat-log-frame">
      <div ref={scroller} className="chat-log" role="log" aria-label={label} tabIndex={0} onScroll={onScroll}>
        {hidden > 0 && (
          <button type="button" className="chat-earlier" onClick={() => { setShown(count => count + MESSAGE_PAGE_SIZE) }}>
            Show earlier messages ({hidden.toLocaleString()} more)
          </button>
        )}
        {messages.length === 0
          ? <p className="hint chat-log-empty">No messages yet. Say hello: messages wait in the outbox until the peer can be reached.</p>
          : (
            <ol ref={list} className="chat-messages">
              {visible.map(message => <MessageItem key={messageKey(message)} message={message} />)}
            </ol>
            )}
      </div>
      {!atBottom && (
        <button type="button" className="chat-jump" onClick={jumpToLatest}>Jump to latest</button>
      )}
    </div>
  )
}

function messageKey (message: ChatMessage): string {
  return `${message.direction}-${message.id}`
}

/** The first message still (partly) in view, found by binary search over the rendered items. */
function findAnchor (scroller: HTMLElement, list: HTMLOListElement | null): ScrollAnchor | undefined {
  if (list == null) return undefined
  const items = list.children
  const top = scroller.scrollTop
  let low = 0
  let high = items.length - 1
  let found: HTMLElement | undefined
  while (low <= high) {
    const middle = (low + high) >> 1
    const item = items[middle] as HTMLElement
    if (item.offsetTop + item.offsetHeight > top) {
      found = item
      high = middle - 1
    } else {
      low = middle + 1
    }
  }
  const key = found?.dataset.key
  return found == null || key == null ? undefined : { key, offset: found.offsetTop - top, scrollTop: top }
}

/**
 * One message. The core rebuilds every message object on each change, so equality is by the
 * fields that can change, not by reference: a burst re-renders only what changed.
 */
const MessageItem = memo(function MessageItem ({ message }: { message: ChatMessage }): React.JSX.Element {
  const outgoing = message.direction === 'out'
  const shownAt = outgoing ? message.sentAt : (message.receivedAt ?? message.sentAt)
  const timeTitle = outgoing
    ? `Sent ${formatFullTime(message.sentAt)}`
    : `Sent ${formatFullTime(message.sentAt)}${message.receivedAt != null ? `, received ${formatFullTime(message.receivedAt)}` : ''}`
  const state = message.state ?? 'sending'
  return (
    <li
      className={`chat-message chat-message-${message.direction}`}
      data-key={messageKey(message)}
      data-testid="chat-message"
      data-direction={message.direction}
      data-state={outgoing ? state : 'received'}
      data-sequence={message.sequence}
    >
      <span className="chat-sr">{outgoing ? 'You' : 'Peer'} (#{message.sequence}): </span>
      <p className="chat-text">{message.text}</p>
      <span className="chat-message-meta">
        <time dateTime={new Date(shownAt).toISOString()} title={timeTitle}>{formatMessageTime(shownAt)}</time>
        {outgoing && (
          <span
            className={`chat-state chat-state-${state}`}
            title={message.lastError != null ? `${message.lastError}${message.attempts != null && message.attempts > 0 ? ` (attempt ${message.attempts})` : ''}` : undefined}
          >
            {DELIVERY_TEXT[state]}
          </span>
        )}
      </span>
    </li>
  )
}, (before, after) => sameMessage(before.message, after.message))

function sameMessage (a: ChatMessage, b: ChatMessage): boolean {
  return a === b || (
    a.id === b.id &&
    a.direction === b.direction &&
    a.sequence === b.sequence &&
    a.text === b.text &&
    a.state === b.state &&
    a.attempts === b.attempts &&
    a.lastError === b.lastError &&
    a.receivedAt === b.receivedAt
  )
}
