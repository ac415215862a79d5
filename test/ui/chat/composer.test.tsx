// @vitest-environment jsdom
import { cleanup, render, screen } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { MAX_CHAT_TEXT_BYTES, checkChatText } from '../../../src/p2p/services/chat/chat-codec.ts'
import { Composer } from '../../../src/ui/chat/composer.tsx'
import { ALICE, BOB, CAROL, DAVE, ERIN, FRANK, deferred } from '../fake-session.ts'
import type { ChatMessage } from '../../../src/p2p/services/chat/index.ts'
import type { ComposerSession } from '../../../src/ui/chat/composer.tsx'

// The composer keeps unsent drafts per peer for the whole page: a test that leaves text in the
// field uses a peer of its own (BOB, CAROL, DAVE, ERIN, FRANK), so the others start empty.

/** Like the core: refuses what the protocol cannot carry (checkChatText), else queues the message. */
function fakeSession () {
  let sequence = 0
  return {
    sendChat: vi.fn<ComposerSession['sendChat']>(async (peer, text): Promise<ChatMessage> => {
      checkChatText(text)
      sequence++
      return { id: sequence.toString(16).padStart(32, '0'), peer, direction: 'out', sequence, text, sentAt: Date.now(), state: 'sending', attempts: 0 }
    })
  } satisfies ComposerSession
}

function messageField (): HTMLTextAreaElement {
  return screen.getByRole<HTMLTextAreaElement>('textbox', { name: 'Message' })
}

/** The byte counter as the user reads it, in the page's locale as the component writes it. */
function byteCount (bytes: number): string {
  const over = bytes > MAX_CHAT_TEXT_BYTES ? ' (over the 16 KiB limit)' : ''
  return `${bytes.toLocaleString()} / ${MAX_CHAT_TEXT_BYTES.toLocaleString()} bytes${over}`
}

afterEach(cleanup)

describe('Composer', () => {
  it('sends the typed text to the peer with Send and then empties the field', async () => {
    const user = userEvent.setup()
    const session = fakeSession()
    render(<Composer session={session} peer={ALICE} />)

    await user.type(messageField(), 'hello Alice')
    expect(screen.getByText(byteCount(11))).toBeDefined()
    await user.click(screen.getByRole('button', { name: 'Send' }))

    expect(session.sendChat).toHaveBeenCalledExactlyOnceWith(ALICE, 'hello Alice')
    expect(messageField().value).toBe('')
    expect(screen.getByText(byteCount(0))).toBeDefined()
    expect(screen.queryByRole('alert')).toBeNull()
  })

  it('sends with Enter; Shift+Enter adds a line instead', async () => {
    const user = userEvent.setup()
    const session = fakeSession()
    render(<Composer session={session} peer={ALICE} />)

    await user.type(messageField(), 'line one{Shift>}{Enter}{/Shift}line two')
    expect(messageField().value).toBe('line one\nline two')
    expect(session.sendChat).not.toHaveBeenCalled()

    await user.keyboard('{Enter}')
    expect(session.sendChat).toHaveBeenCalledExactlyOnceWith(ALICE, 'line one\nline two')
    expect(messageField().value).toBe('')
  })

  it('keeps the text until the core has stored the message, and keeps what was typed meanwhile', async () => {
    const user = userEvent.setup()
    const session = fakeSession()
    const stored = deferred<ChatMessage>()
    session.sendChat.mockReturnValueOnce(stored.promise)
    render(<Composer session={session} peer={BOB} />)

    await user.type(messageField(), 'first{Enter}')
    expect(session.sendChat).toHaveBeenCalledExactlyOnceWith(BOB, 'first')
    expect(messageField().value).toBe('first')

    await user.type(messageField(), ' and second')
    stored.resolve({ id: '1'.padStart(32, '0'), peer: BOB, direction: 'out', sequence: 1, text: 'first', sentAt: Date.now(), state: 'sending' })
    await vi.waitFor(() => { expect(messageField().value).toBe(' and second') })
  })

  it('sends a message once when Enter repeats while it is being stored', async () => {
    const user = userEvent.setup()
    const session = fakeSession()
    const stored = deferred<ChatMessage>()
    session.sendChat.mockReturnValueOnce(stored.promise)
    render(<Composer session={session} peer={ALICE} />)

    await user.type(messageField(), 'hi{Enter}{Enter}{Enter}')
    expect(session.sendChat).toHaveBeenCalledExactlyOnceWith(ALICE, 'hi')

    stored.resolve({ id: '2'.padStart(32, '0'), peer: ALICE, direction: 'out', sequence: 1, text: 'hi', sentAt: Date.now(), state: 'sending' })
    await vi.waitFor(() => { expect(messageField().value).toBe('') })
    expect(session.sendChat).toHaveBeenCalledTimes(1)
  })

  it('sends nothing for Enter in an empty or blank field', async () => {
    const user = userEvent.setup()
    const session = fakeSession()
    render(<Composer session={session} peer={CAROL} />)

    await user.type(messageField(), '{Enter}')
    await user.type(messageField(), '   {Enter}')
    expect(session.sendChat).not.toHaveBeenCalled()
    expect(messageField().value).toBe('   ')
    expect(screen.queryByRole('alert')).toBeNull()
  })

  it('shows the core refusing an empty message when Send is pressed', async () => {
    const user = userEvent.setup()
    const session = fakeSession()
    render(<Composer session={session} peer={ALICE} />)

    await user.click(screen.getByRole('button', { name: 'Send' }))
    expect(session.sendChat).toHaveBeenCalledExactlyOnceWith(ALICE, '')
    expect((await screen.findByRole('alert')).textContent).toBe('Not sent. The message is empty.')
  })

  it('marks text over 16 KiB, shows the core refusing it, keeps the text, and clears the error on edit', async () => {
    const user = userEvent.setup()
    const session = fakeSession()
    render(<Composer session={session} peer={DAVE} />)
    const tooLong = 'é'.repeat(MAX_CHAT_TEXT_BYTES / 2 + 1) // 2 bytes each: 16,386 bytes

    await user.click(messageField())
    await user.paste(tooLong)
    expect(screen.getByText(byteCount(MAX_CHAT_TEXT_BYTES + 2))).toBeDefined()
    expect(messageField().getAttribute('aria-invalid')).toBe('true')

    await user.click(screen.getByRole('button', { name: 'Send' }))
    expect(session.sendChat).toHaveBeenCalledExactlyOnceWith(DAVE, tooLong)
    expect((await screen.findByRole('alert')).textContent).toBe('Not sent. The message is 16386 bytes long; the limit is 16384 bytes (16 KiB).')
    expect(messageField().value).toBe(tooLong)

    await user.type(messageField(), '{Backspace}')
    expect(screen.queryByRole('alert')).toBeNull()
    expect(screen.getByText(byteCount(MAX_CHAT_TEXT_BYTES))).toBeDefined()
    expect(messageField().getAttribute('aria-invalid')).toBeNull()
  })

  it('keeps an unsent draft per conversation when the composer is shown again', async () => {
    const user = userEvent.setup()
    const session = fakeSession()
    const first = render(<Composer session={session} peer={FRANK} />)
    await user.type(messageField(), 'draft for Frank')
    first.unmount()

    const other = render(<Composer session={session} peer={ERIN} />)
    expect(messageField().value).toBe('')
    other.unmount()

    render(<Composer session={session} peer={FRANK} />)
    expect(messageField().value).toBe('draft for Frank')
    expect(session.sendChat).not.toHaveBeenCalled()
  })
})
