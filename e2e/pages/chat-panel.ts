import { expect } from '@playwright/test'
import type { Locator, Page } from '@playwright/test'

export type ChatDirection = 'in' | 'out'
/** data-state of a rendered message: outgoing ones carry their delivery state. */
export type ChatMessageState = 'sending' | 'delivered' | 'retrying' | 'received'
/** data-path of the open conversation ("unknown" before any exchange). */
export type ChatPathAttribute = 'webrtc' | 'relayed' | 'direct' | 'unknown'

/** One message as the Chat panel renders it. */
export interface RenderedChatMessage {
  direction: ChatDirection
  state: ChatMessageState
  sequence: number
  text: string
}

/**
 * The Chat panel of one webkad tab, driven through its UI: the "Start a chat" form, the
 * conversation list, the open conversation's messages and the composer.
 */
export class ChatPanel {
  readonly page: Page

  constructor (page: Page) {
    this.page = page
  }

  get region (): Locator { return this.page.getByRole('region', { name: 'Chat', exact: true }) }
  get peerIdField (): Locator { return this.region.getByLabel('Peer ID to chat with') }
  get openChatButton (): Locator { return this.region.getByRole('button', { name: 'Open chat', exact: true }) }
  get composer (): Locator { return this.region.getByLabel('Message', { exact: true }) }
  get sendButton (): Locator { return this.region.getByRole('button', { name: 'Send', exact: true }) }
  /** The open conversation's path: "WebRTC direct", "via relay", "direct" or "no exchange yet". */
  get path (): Locator { return this.region.getByTestId('chat-path') }
  /** The open conversation's rendered messages (both directions). */
  get messages (): Locator { return this.region.getByTestId('chat-message') }

  /** The conversation list entry for a peer. */
  conversation (peerId: string): Locator {
    return this.region.locator(`[data-testid="chat-conversation"][data-peer="${peerId}"]`)
  }

  /** Rendered messages of one direction, optionally only those in one state. */
  messagesOf (direction: ChatDirection, state?: ChatMessageState): Locator {
    let selector = `[data-testid="chat-message"][data-direction="${direction}"]`
    if (state != null) selector += `[data-state="${state}"]`
    return this.region.locator(selector)
  }

  /** The rendered message with this direction and sequence number. */
  message (direction: ChatDirection, sequence: number): Locator {
    return this.region.locator(`[data-testid="chat-message"][data-direction="${direction}"][data-sequence="${sequence}"]`)
  }

  /** Pastes a peer ID into "Start a chat", clicks Open chat and waits for the conversation to show. */
  async openChat (peerId: string): Promise<void> {
    await this.peerIdField.fill(peerId)
    await this.openChatButton.click()
    await expect(this.conversation(peerId)).toHaveAttribute('aria-current', 'true')
    await expect(this.region.locator('.chat-peer-id')).toHaveText(peerId)
  }

  /** Selects a conversation from the list (e.g. one a peer started). */
  async selectConversation (peerId: string): Promise<void> {
    await this.conversation(peerId).click()
    await expect(this.conversation(peerId)).toHaveAttribute('aria-current', 'true')
  }

  /** Types a message into the composer and presses Enter; waits until the composer is cleared (stored in the outbox). */
  async send (text: string): Promise<void> {
    await this.composer.fill(text)
    await this.composer.press('Enter')
    await expect(this.composer).toHaveValue('')
  }

  /** Every rendered message of the open conversation, in display order. */
  async readMessages (): Promise<RenderedChatMessage[]> {
    return await this.messages.evaluateAll(items => items.map(item => ({
      direction: item.getAttribute('data-direction') as ChatDirection,
      state: item.getAttribute('data-state') as ChatMessageState,
      sequence: Number(item.getAttribute('data-sequence')),
      text: item.querySelector('.chat-text')?.textContent ?? ''
    })))
  }
}
