import { createStore } from '../../p2p/stores/store.ts'
import type { ReadableStore } from '../../p2p/stores/store.ts'
import type { WebkadSession } from '../../p2p/session.ts'

export interface ChatSelection {
  /** Full peer ID of the conversation shown in the Chat panel. */
  peer?: string
  /** Bumped by `openChatWith`, so the Chat panel scrolls into view and focuses its composer. */
  focusRequest: number
  /**
   * Peers whose chat was opened with `openChatWith` since the page loaded. Their conversations
   * are shown even while empty, and even before the core's list (published a few ms later)
   * contains them; a peer restored after a reload is shown only if the core has messages with it.
   */
  openedPeers: ReadonlySet<string>
}

/** sessionStorage entry: a reload shows the same conversation again. */
const SELECTED_KEY = 'webkad:chat-selected'

const store = createStore<ChatSelection>({ peer: readRemembered(), focusRequest: 0, openedPeers: new Set() })

/**
 * The conversation selected in the Chat panel. Lives outside React so any panel (Find peer, the
 * routing table) can start a chat with `openChatWith`.
 */
export const chatSelection: ReadableStore<ChatSelection> = store

/** Shows a conversation in the Chat panel without moving focus (e.g. a click in the list). */
export function selectConversation (peer: string | undefined): void {
  store.update(current => current.peer === peer ? current : { ...current, peer })
  remember(peer)
}

/**
 * Opens (creates) the conversation with a peer, selects it and brings the composer into view.
 * Returns the full peer ID; throws the core's InvalidPeerIdError, SelfPeerError or
 * NotConnectedError synchronously.
 */
export function openChatWith (session: Pick<WebkadSession, 'openChat'>, peerIdText: string): string {
  const peer = session.openChat(peerIdText)
  store.update(current => ({
    peer,
    focusRequest: current.focusRequest + 1,
    openedPeers: current.openedPeers.has(peer) ? current.openedPeers : new Set([...current.openedPeers, peer])
  }))
  remember(peer)
  return peer
}

function readRemembered (): string | undefined {
  try {
    return globalThis.sessionStorage?.getItem(SELECTED_KEY) ?? undefined
  } catch {
    return undefined // storage disabled: the selection just does not survive a reload
  }
}

function remember (peer: string | undefined): void {
  try {
    if (peer == null) globalThis.sessionStorage?.removeItem(SELECTED_KEY)
    else globalThis.sessionStorage?.setItem(SELECTED_KEY, peer)
  } catch {
    // storage disabled or full: nothing to do
  }
}
