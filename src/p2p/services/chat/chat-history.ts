import { Key } from 'interface-datastore'
import { fromString, toString } from 'uint8arrays'
import { createCoalescedStore } from '../../stores/store.ts'
import type { ReadableStore } from '../../stores/store.ts'
import type { Datastore } from 'interface-datastore'

export type DeliveryState = 'sending' | 'delivered' | 'retrying'
/** webrtc: browser-to-browser; relayed: through the relay (limited); direct: another unlimited transport. */
export type ChatPath = 'webrtc' | 'relayed' | 'direct'

export interface ChatMessage {
  /** 16 random bytes, hex. */
  id: string
  /** The other side of the conversation. */
  peer: string
  direction: 'out' | 'in'
  /** The sender's sequence number in this conversation (1, 2, …). */
  sequence: number
  text: string
  sentAt: number
  receivedAt?: number
  /** Outgoing only. */
  state?: DeliveryState
  attempts?: number
  lastError?: string
}

export interface Conversation {
  peer: string
  nickname?: string
  /** Oldest first: incoming ordered by the sender's sequence, interleaved with ours by time. */
  messages: readonly ChatMessage[]
  unread: number
  /** The path the last exchange used. */
  path?: ChatPath
  lastActivity: number
}

interface ConversationMeta {
  nextOutgoingSequence: number
  /** Highest incoming sequence delivered without gaps: anything at or below it is a duplicate. */
  contiguousIncoming: number
  lastReadAt: number
  nickname?: string
}

/** Messages kept per conversation; older delivered ones are pruned from memory and storage. */
export const MAX_MESSAGES_PER_CONVERSATION = 5000

const ROOT = '/chat'
const pad = (sequence: number): string => sequence.toString().padStart(12, '0')
const messageKey = (peer: string, direction: 'out' | 'in', sequence: number, id: string): Key => new Key(`${ROOT}/${peer}/${direction}/${pad(sequence)}/${id}`)
const metaKey = (peer: string): Key => new Key(`${ROOT}/${peer}/meta`)

/**
 * Conversation history and the outbox, kept in a datastore (IndexedDB in the browser) so
 * nothing is lost across reloads. Snapshots for the UI are immutable and coalesced.
 */
export class ChatHistory {
  private readonly datastore: Datastore
  private readonly metas = new Map<string, ConversationMeta>()
  private readonly messages = new Map<string, ChatMessage[]>()
  private readonly paths = new Map<string, ChatPath>()
  // Built from the maps above (declared first): a burst of 1000 messages causes a handful of renders.
  private readonly store = createCoalescedStore<readonly Conversation[]>(() => this.snapshot(), 30)

  constructor (datastore: Datastore) {
    this.datastore = datastore
  }

  get conversations (): ReadableStore<readonly Conversation[]> { return this.store }

  /** Reads everything stored for this identity. */
  async load (): Promise<void> {
    for await (const { key, value } of this.datastore.query({ prefix: ROOT })) {
      const parts = key.toString().split('/').filter(Boolean)
      const peer = parts[1]
      if (peer == null) continue
      try {
        const parsed: unknown = JSON.parse(toString(value))
        // Valid JSON that is no object (e.g. `null`) is just as corrupt, and would crash snapshots.
        if (parsed == null || typeof parsed !== 'object') continue
        if (parts[2] === 'meta') this.metas.set(peer, parsed as ConversationMeta)
        else this.list(peer).push(parsed as ChatMessage)
      } catch {
        // A corrupt entry is skipped rather than taking the whole history down.
      }
    }
    this.store.flush()
  }

  /** Creates and stores the next outgoing message for `peer` (state "sending"). */
  async addOutgoing (peer: string, id: string, text: string, sentAt: number): Promise<ChatMessage> {
    const meta = this.meta(peer)
    const message: ChatMessage = { id, peer, direction: 'out', sequence: meta.nextOutgoingSequence, text, sentAt, state: 'sending', attempts: 0 }
    meta.nextOutgoingSequence++
    meta.lastReadAt = Math.max(meta.lastReadAt, sentAt)
    const batch = this.datastore.batch()
    batch.put(metaKey(peer), encode(meta))
    batch.put(messageKey(peer, 'out', message.sequence, id), encode(message))
    await batch.commit()
    this.list(peer).push(message)
    this.store.invalidate()
    return message
  }

  /**
   * Stores an incoming message unless it is a duplicate (same sequence already delivered, or
   * same id stored). Returns false for duplicates; they must still be acknowledged.
   */
  async addIncoming (peer: string, message: Omit<ChatMessage, 'peer' | 'direction'>): Promise<boolean> {
    const meta = this.meta(peer)
    const list = this.list(peer)
    if (message.sequence <= meta.contiguousIncoming || list.some(existing => existing.direction === 'in' && existing.id === message.id)) return false
    const stored: ChatMessage = { ...message, peer, direction: 'in' }
    list.push(stored)
    // Advance the gap-free mark so later duplicates are recognised without scanning ids.
    const incoming = new Set(list.filter(entry => entry.direction === 'in').map(entry => entry.sequence))
    while (incoming.has(meta.contiguousIncoming + 1)) meta.contiguousIncoming++
    const batch = this.datastore.batch()
    batch.put(messageKey(peer, 'in', stored.sequence, stored.id), encode(stored))
    batch.put(metaKey(peer), encode(meta))
    for (const pruned of this.prune(peer, stored)) batch.delete(messageKey(peer, pruned.direction, pruned.sequence, pruned.id))
    await batch.commit()
    this.store.invalidate()
    return true
  }

  /** Outgoing messages not yet acknowledged, in sequence order. */
  pending (peer: string): ChatMessage[] {
    // Read without creating: asking about a peer must not open a conversation with it.
    return (this.messages.get(peer) ?? []).filter(message => message.direction === 'out' && message.state !== 'delivered').sort((a, b) => a.sequence - b.sequence)
  }

  /** Peers with unacknowledged outgoing messages. */
  peersWithPending (): string[] {
    return [...this.messages.keys()].filter(peer => this.pending(peer).length > 0)
  }

  async markDelivered (peer: string, sequence: number, id: string): Promise<void> {
    const message = this.list(peer).find(entry => entry.direction === 'out' && entry.sequence === sequence && entry.id === id)
    if (message == null || message.state === 'delivered') return
    message.state = 'delivered'
    message.lastError = undefined
    await this.datastore.put(messageKey(peer, 'out', sequence, id), encode(message))
    this.store.invalidate()
  }

  /** Marks pending messages as waiting for a retry (kept in memory: the outbox is the source of truth). */
  markRetrying (peer: string, error: string): void {
    for (const message of this.pending(peer)) {
      message.state = 'retrying'
      message.attempts = (message.attempts ?? 0) + 1
      message.lastError = error
    }
    this.store.invalidate()
  }

  setPath (peer: string, path: ChatPath): void {
    if (this.paths.get(peer) === path) return
    this.paths.set(peer, path)
    this.store.invalidate()
  }

  async markRead (peer: string): Promise<void> {
    const meta = this.meta(peer)
    meta.lastReadAt = Date.now()
    await this.datastore.put(metaKey(peer), encode(meta))
    this.store.invalidate()
  }

  async setNickname (peer: string, nickname: string): Promise<void> {
    const meta = this.meta(peer)
    // Cut by code points: slicing UTF-16 units could split an emoji into a lone surrogate.
    meta.nickname = nickname.trim() === '' ? undefined : Array.from(nickname.trim()).slice(0, 40).join('')
    await this.datastore.put(metaKey(peer), encode(meta))
    this.store.invalidate()
  }

  /** Makes sure a conversation exists (to open an empty chat with a peer). */
  open (peer: string): void {
    this.meta(peer)
    this.list(peer)
    this.store.invalidate()
  }

  private meta (peer: string): ConversationMeta {
    let meta = this.metas.get(peer)
    if (meta == null) {
      meta = { nextOutgoingSequence: 1, contiguousIncoming: 0, lastReadAt: 0 }
      this.metas.set(peer, meta)
    }
    return meta
  }

  private list (peer: string): ChatMessage[] {
    let list = this.messages.get(peer)
    if (list == null) {
      list = []
      this.messages.set(peer, list)
    }
    return list
  }

  /** Drops the oldest delivered or incoming messages beyond the cap, never `keep` (just stored). */
  private prune (peer: string, keep?: ChatMessage): ChatMessage[] {
    const list = this.list(peer)
    const removed: ChatMessage[] = []
    while (list.length > MAX_MESSAGES_PER_CONVERSATION) {
      const index = list.findIndex(message => message !== keep && (message.direction === 'in' || message.state === 'delivered'))
      if (index < 0) break
      removed.push(...list.splice(index, 1))
    }
    return removed
  }

  private snapshot (): Conversation[] {
    const peers = new Set([...this.metas.keys(), ...this.messages.keys()])
    return [...peers].map((peer) => {
      const meta = this.meta(peer)
      const messages = conversationOrder(this.list(peer)).map(message => ({ ...message }))
      const unread = messages.filter(message => message.direction === 'in' && (message.receivedAt ?? 0) > meta.lastReadAt).length
      const lastActivity = messages.reduce((latest, message) => Math.max(latest, message.receivedAt ?? message.sentAt), 0)
      return { peer, nickname: meta.nickname, messages, unread, path: this.paths.get(peer), lastActivity }
    }).sort((a, b) => b.lastActivity - a.lastActivity || a.peer.localeCompare(b.peer))
  }
}

/**
 * Each direction in its sender's sequence order (exactly the order it was written), the two
 * merged by the time this tab saw each message.
 */
export function conversationOrder (messages: readonly ChatMessage[]): ChatMessage[] {
  const bySequence = (a: ChatMessage, b: ChatMessage): number => a.sequence - b.sequence || a.id.localeCompare(b.id)
  const incoming = messages.filter(message => message.direction === 'in').sort(bySequence)
  const outgoing = messages.filter(message => message.direction === 'out').sort(bySequence)
  const merged: ChatMessage[] = []
  let i = 0
  let o = 0
  while (i < incoming.length || o < outgoing.length) {
    const nextIn = incoming[i]
    const nextOut = outgoing[o]
    if (nextOut == null || (nextIn != null && (nextIn.receivedAt ?? nextIn.sentAt) <= nextOut.sentAt)) {
      if (nextIn != null) merged.push(nextIn)
      i++
    } else {
      merged.push(nextOut)
      o++
    }
  }
  return merged
}

function encode (value: unknown): Uint8Array {
  return fromString(JSON.stringify(value))
}
