import { MemoryDatastore } from 'datastore-core'
import { Key } from 'interface-datastore'
import { fromString, toString } from 'uint8arrays'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ChatHistory, MAX_MESSAGES_PER_CONVERSATION, conversationOrder } from '../../../../src/p2p/services/chat/chat-history.ts'
import type { ChatMessage, Conversation } from '../../../../src/p2p/services/chat/chat-history.ts'

const T0 = 1_750_000_000_000
const ALICE = '12D3KooWAliceAliceAliceAliceAliceAliceAliceAlice1'
const BOB = '12D3KooWBobBobBobBobBobBobBobBobBobBobBobBobBob1'
const CAROL = '12D3KooWCarolCarolCarolCarolCarolCarolCarolCaro1'

let counter = 0
/** A fresh 16-byte id in hex, like the chat service makes. */
const newId = (): string => (++counter).toString(16).padStart(32, '0')

type Incoming = Omit<ChatMessage, 'peer' | 'direction'>
const incoming = (sequence: number, fields: Partial<Incoming> = {}): Incoming => ({
  id: newId(), sequence, text: `in ${sequence}`, sentAt: T0 + sequence, receivedAt: T0 + 1000 + sequence, ...fields
})

/** Snapshots are coalesced for 30 ms: let the timer fire. */
function conversations (history: ChatHistory): readonly Conversation[] {
  vi.advanceTimersByTime(30)
  return history.conversations.getSnapshot()
}

function conversation (history: ChatHistory, peer: string): Conversation {
  const found = conversations(history).find(entry => entry.peer === peer)
  if (found == null) throw new Error(`no conversation with ${peer}`)
  return found
}

const texts = (history: ChatHistory, peer: string): string[] => conversation(history, peer).messages.map(message => message.text)

async function storedJson (datastore: MemoryDatastore, prefix: string): Promise<unknown[]> {
  const out: unknown[] = []
  for await (const { value } of datastore.query({ prefix })) out.push(JSON.parse(toString(value)))
  return out
}

async function storedMeta (datastore: MemoryDatastore, peer: string): Promise<Record<string, unknown>> {
  return JSON.parse(toString(await datastore.get(new Key(`/chat/${peer}/meta`)))) as Record<string, unknown>
}

async function reloaded (datastore: MemoryDatastore): Promise<ChatHistory> {
  const history = new ChatHistory(datastore)
  await history.load()
  return history
}

beforeEach(() => { vi.useFakeTimers({ now: T0 }) })
afterEach(() => { vi.useRealTimers() })

describe('outgoing messages', () => {
  it('numbers them 1, 2, 3 … per peer, in state "sending"', async () => {
    const history = new ChatHistory(new MemoryDatastore())
    const first = await history.addOutgoing(ALICE, newId(), 'one', T0)
    const second = await history.addOutgoing(ALICE, newId(), 'two', T0 + 1)
    const toBob = await history.addOutgoing(BOB, newId(), 'hi bob', T0 + 2)
    expect(first).toMatchObject({ peer: ALICE, direction: 'out', sequence: 1, text: 'one', sentAt: T0, state: 'sending', attempts: 0 })
    expect(second.sequence).toBe(2)
    expect(toBob.sequence).toBe(1)
  })

  it('continues the sequence after a reload from the same datastore', async () => {
    const datastore = new MemoryDatastore()
    const history = new ChatHistory(datastore)
    for (let index = 1; index <= 5; index++) await history.addOutgoing(ALICE, newId(), `m${index}`, T0 + index)

    const after = await reloaded(datastore)
    expect(after.conversations.getSnapshot().find(entry => entry.peer === ALICE)?.messages.map(message => message.sequence)).toEqual([1, 2, 3, 4, 5])
    const next = await after.addOutgoing(ALICE, newId(), 'm6', T0 + 6)
    expect(next.sequence).toBe(6)
    expect((await reloaded(datastore)).pending(ALICE).map(message => message.sequence)).toEqual([1, 2, 3, 4, 5, 6])
  })

  it('persists each message with all its fields', async () => {
    const datastore = new MemoryDatastore()
    const history = new ChatHistory(datastore)
    const message = await history.addOutgoing(ALICE, newId(), 'stored ✓', T0)
    expect(await storedJson(datastore, `/chat/${ALICE}/out`)).toEqual([message])
    expect(await storedMeta(datastore, ALICE)).toMatchObject({ nextOutgoingSequence: 2 })
  })
})

describe('incoming messages', () => {
  it('stores a new message and reports it as new', async () => {
    const datastore = new MemoryDatastore()
    const history = new ChatHistory(datastore)
    expect(await history.addIncoming(ALICE, incoming(1))).toBe(true)
    expect(texts(history, ALICE)).toEqual(['in 1'])
    expect(conversation(history, ALICE).messages[0]).toMatchObject({ peer: ALICE, direction: 'in', sequence: 1 })
    expect(await storedJson(datastore, `/chat/${ALICE}/in`)).toHaveLength(1)
  })

  it('refuses the same sequence twice (a retransmission with the same id)', async () => {
    const history = new ChatHistory(new MemoryDatastore())
    const message = incoming(1)
    expect(await history.addIncoming(ALICE, message)).toBe(true)
    expect(await history.addIncoming(ALICE, { ...message })).toBe(false)
    expect(texts(history, ALICE)).toEqual(['in 1'])
  })

  it('refuses an already delivered sequence even with a new id', async () => {
    const history = new ChatHistory(new MemoryDatastore())
    expect(await history.addIncoming(ALICE, incoming(1))).toBe(true)
    expect(await history.addIncoming(ALICE, incoming(1, { text: 'other' }))).toBe(false)
    expect(texts(history, ALICE)).toEqual(['in 1'])
  })

  it('refuses the same id twice even above the gap-free mark', async () => {
    const history = new ChatHistory(new MemoryDatastore())
    const early = incoming(5)
    expect(await history.addIncoming(ALICE, early)).toBe(true)
    expect(await history.addIncoming(ALICE, { ...early })).toBe(false)
    expect(await history.addIncoming(ALICE, { ...early, sequence: 6 })).toBe(false)
    expect(texts(history, ALICE)).toEqual(['in 5'])
  })

  it('keeps duplicates per peer: the same sequence from two peers is two messages', async () => {
    const history = new ChatHistory(new MemoryDatastore())
    expect(await history.addIncoming(ALICE, incoming(1))).toBe(true)
    expect(await history.addIncoming(BOB, incoming(1))).toBe(true)
  })

  it('delivers out-of-order arrivals (3, 1, 2) and shows them in sequence order', async () => {
    const datastore = new MemoryDatastore()
    const history = new ChatHistory(datastore)
    // Received in the order 3, 1, 2 at increasing times.
    expect(await history.addIncoming(ALICE, incoming(3, { receivedAt: T0 + 10 }))).toBe(true)
    expect((await storedMeta(datastore, ALICE)).contiguousIncoming).toBe(0)
    expect(await history.addIncoming(ALICE, incoming(1, { receivedAt: T0 + 20 }))).toBe(true)
    expect((await storedMeta(datastore, ALICE)).contiguousIncoming).toBe(1)
    // Sequence 2 is still missing: another message claiming it is accepted.
    expect(await history.addIncoming(ALICE, incoming(2, { receivedAt: T0 + 30 }))).toBe(true)
    expect((await storedMeta(datastore, ALICE)).contiguousIncoming).toBe(3)
    expect(texts(history, ALICE)).toEqual(['in 1', 'in 2', 'in 3'])
    // Everything up to 3 is now a duplicate, whatever its id.
    expect(await history.addIncoming(ALICE, incoming(2))).toBe(false)
    expect(await history.addIncoming(ALICE, incoming(3))).toBe(false)
    expect(await history.addIncoming(ALICE, incoming(4))).toBe(true)
    expect((await storedMeta(datastore, ALICE)).contiguousIncoming).toBe(4)
  })

  it('remembers the gap-free mark across a reload', async () => {
    const datastore = new MemoryDatastore()
    const history = new ChatHistory(datastore)
    for (const sequence of [1, 2, 3]) await history.addIncoming(ALICE, incoming(sequence))
    const after = await reloaded(datastore)
    expect(await after.addIncoming(ALICE, incoming(2))).toBe(false)
    expect(await after.addIncoming(ALICE, incoming(4))).toBe(true)
    expect(texts(after, ALICE)).toEqual(['in 1', 'in 2', 'in 3', 'in 4'])
  })

  it('remembers ids above a gap across a reload', async () => {
    const datastore = new MemoryDatastore()
    const history = new ChatHistory(datastore)
    const early = incoming(3)
    await history.addIncoming(ALICE, early)
    const after = await reloaded(datastore)
    expect(await after.addIncoming(ALICE, { ...early })).toBe(false)
    expect(await after.addIncoming(ALICE, incoming(1))).toBe(true)
  })
})

describe('conversationOrder', () => {
  const message = (direction: 'in' | 'out', sequence: number, time: number, fields: Partial<ChatMessage> = {}): ChatMessage => ({
    id: `${direction}${sequence}`, peer: ALICE, direction, sequence, text: `${direction}${sequence}`, sentAt: time, ...(direction === 'in' ? { receivedAt: time } : {}), ...fields
  })
  const order = (messages: ChatMessage[]): string[] => conversationOrder(messages).map(entry => entry.text)

  it('returns an empty list for no messages', () => {
    expect(conversationOrder([])).toEqual([])
  })

  it('interleaves the two directions by the time this tab saw each message', () => {
    const messages = [message('out', 1, 10), message('in', 1, 15), message('out', 2, 20), message('in', 2, 25), message('in', 3, 30)]
    expect(order([...messages].reverse())).toEqual(['out1', 'in1', 'out2', 'in2', 'in3'])
  })

  it('keeps each direction in sequence order even when the times disagree', () => {
    // Incoming 2 was received before incoming 1 (out of order on the wire): still shown 1, 2.
    const messages = [message('in', 2, 10), message('in', 1, 20), message('out', 2, 5), message('out', 1, 30)]
    const ordered = conversationOrder(messages)
    expect(ordered.filter(entry => entry.direction === 'in').map(entry => entry.sequence)).toEqual([1, 2])
    expect(ordered.filter(entry => entry.direction === 'out').map(entry => entry.sequence)).toEqual([1, 2])
    expect(ordered).toHaveLength(4)
  })

  it('puts an incoming message first on a time tie', () => {
    expect(order([message('out', 1, 10), message('in', 1, 10)])).toEqual(['in1', 'out1'])
  })

  it('uses sentAt for incoming messages without receivedAt', () => {
    const withoutReceivedAt = { ...message('in', 1, 0), receivedAt: undefined, sentAt: 25 }
    expect(order([message('out', 1, 20), withoutReceivedAt, message('out', 2, 30)])).toEqual(['out1', 'in1', 'out2'])
  })

  it('orders equal sequences by id', () => {
    const a = message('in', 1, 10, { id: 'b', text: 'second' })
    const b = message('in', 1, 10, { id: 'a', text: 'first' })
    expect(order([a, b])).toEqual(['first', 'second'])
  })

  it('does not change the array it is given', () => {
    const messages = [message('in', 2, 10), message('in', 1, 20)]
    conversationOrder(messages)
    expect(messages.map(entry => entry.sequence)).toEqual([2, 1])
  })
})

describe('delivery state', () => {
  it('pending lists unacknowledged outgoing messages in sequence order', async () => {
    const history = new ChatHistory(new MemoryDatastore())
    const ids = [newId(), newId(), newId()]
    for (const [index, id] of ids.entries()) await history.addOutgoing(ALICE, id, `m${index + 1}`, T0 + index)
    await history.addIncoming(ALICE, incoming(1))
    expect(history.pending(ALICE).map(message => message.sequence)).toEqual([1, 2, 3])
    expect(history.pending(BOB)).toEqual([])
  })

  it('asking for the pending messages of a stranger does not open a conversation', async () => {
    const history = new ChatHistory(new MemoryDatastore())
    await history.addIncoming(ALICE, incoming(1))
    expect(history.pending(BOB)).toEqual([])
    expect(history.peersWithPending()).toEqual([])
    expect(conversations(history).map(entry => entry.peer)).toEqual([ALICE])
  })

  it('markDelivered takes a message out of pending, persists it and clears its error', async () => {
    const datastore = new MemoryDatastore()
    const history = new ChatHistory(datastore)
    const first = await history.addOutgoing(ALICE, newId(), 'one', T0)
    const second = await history.addOutgoing(ALICE, newId(), 'two', T0 + 1)
    history.markRetrying(ALICE, 'peer offline')
    await history.markDelivered(ALICE, first.sequence, first.id)
    expect(history.pending(ALICE).map(message => message.id)).toEqual([second.id])
    const delivered = conversation(history, ALICE).messages.find(message => message.id === first.id)
    expect(delivered).toMatchObject({ state: 'delivered' })
    expect(delivered?.lastError).toBeUndefined()
    const after = await reloaded(datastore)
    expect(after.pending(ALICE).map(message => message.id)).toEqual([second.id])
  })

  it('markDelivered ignores a wrong id, a wrong sequence and an unknown peer', async () => {
    const history = new ChatHistory(new MemoryDatastore())
    const message = await history.addOutgoing(ALICE, newId(), 'one', T0)
    await history.markDelivered(ALICE, message.sequence, newId())
    await history.markDelivered(ALICE, message.sequence + 1, message.id)
    await history.markDelivered(BOB, message.sequence, message.id)
    expect(history.pending(ALICE).map(entry => entry.id)).toEqual([message.id])
  })

  it('markDelivered does not touch incoming messages with the same sequence and id', async () => {
    const history = new ChatHistory(new MemoryDatastore())
    const message = incoming(1)
    await history.addIncoming(ALICE, message)
    await history.markDelivered(ALICE, 1, message.id)
    expect(conversation(history, ALICE).messages[0]?.state).toBeUndefined()
  })

  it('markRetrying counts attempts and records the error on pending messages only', async () => {
    const history = new ChatHistory(new MemoryDatastore())
    const first = await history.addOutgoing(ALICE, newId(), 'one', T0)
    const second = await history.addOutgoing(ALICE, newId(), 'two', T0 + 1)
    await history.markDelivered(ALICE, first.sequence, first.id)
    history.markRetrying(ALICE, 'no route')
    history.markRetrying(ALICE, 'still no route')
    const messages = conversation(history, ALICE).messages
    expect(messages.find(message => message.id === second.id)).toMatchObject({ state: 'retrying', attempts: 2, lastError: 'still no route' })
    expect(messages.find(message => message.id === first.id)).toMatchObject({ state: 'delivered', attempts: 0 })
    // A retrying message is still pending.
    expect(history.pending(ALICE).map(message => message.id)).toEqual([second.id])
  })

  it('peersWithPending lists exactly the peers with unacknowledged messages', async () => {
    const history = new ChatHistory(new MemoryDatastore())
    const toAlice = await history.addOutgoing(ALICE, newId(), 'a', T0)
    await history.addOutgoing(BOB, newId(), 'b', T0)
    await history.addIncoming(CAROL, incoming(1))
    history.open('12D3KooWEmptyConversation')
    expect(history.peersWithPending().sort()).toEqual([ALICE, BOB].sort())
    await history.markDelivered(ALICE, toAlice.sequence, toAlice.id)
    expect(history.peersWithPending()).toEqual([BOB])
  })

  it('peersWithPending survives a reload (the outbox is persistent)', async () => {
    const datastore = new MemoryDatastore()
    const history = new ChatHistory(datastore)
    await history.addOutgoing(BOB, newId(), 'b', T0)
    expect((await reloaded(datastore)).peersWithPending()).toEqual([BOB])
  })
})

describe('unread counts', () => {
  it('counts incoming messages received after the last read', async () => {
    const history = new ChatHistory(new MemoryDatastore())
    await history.addIncoming(ALICE, incoming(1, { receivedAt: T0 + 10 }))
    await history.addIncoming(ALICE, incoming(2, { receivedAt: T0 + 20 }))
    await history.addIncoming(BOB, incoming(1, { receivedAt: T0 + 30 }))
    expect(conversation(history, ALICE).unread).toBe(2)
    expect(conversation(history, BOB).unread).toBe(1)
  })

  it('markRead clears the count for that peer only, and persists', async () => {
    const datastore = new MemoryDatastore()
    const history = new ChatHistory(datastore)
    await history.addIncoming(ALICE, incoming(1, { receivedAt: T0 + 10 }))
    await history.addIncoming(BOB, incoming(1, { receivedAt: T0 + 10 }))
    vi.setSystemTime(T0 + 100)
    await history.markRead(ALICE)
    expect(conversation(history, ALICE).unread).toBe(0)
    expect(conversation(history, BOB).unread).toBe(1)
    expect(await storedMeta(datastore, ALICE)).toMatchObject({ lastReadAt: T0 + 100 })
    // A message arriving after the read counts again.
    await history.addIncoming(ALICE, incoming(2, { receivedAt: T0 + 200 }))
    expect(conversation(history, ALICE).unread).toBe(1)
    const after = await reloaded(datastore)
    expect(after.conversations.getSnapshot().find(entry => entry.peer === ALICE)?.unread).toBe(1)
  })

  it('sending a message marks what came before it as read', async () => {
    const history = new ChatHistory(new MemoryDatastore())
    await history.addIncoming(ALICE, incoming(1, { receivedAt: T0 + 10 }))
    await history.addOutgoing(ALICE, newId(), 'reply', T0 + 50)
    expect(conversation(history, ALICE).unread).toBe(0)
  })

  it('does not count our own messages or incoming messages without receivedAt', async () => {
    const history = new ChatHistory(new MemoryDatastore())
    await history.addOutgoing(ALICE, newId(), 'mine', T0)
    await history.addIncoming(ALICE, { ...incoming(1), receivedAt: undefined })
    expect(conversation(history, ALICE).unread).toBe(0)
  })
})

describe('nicknames', () => {
  it('trims the nickname and persists it', async () => {
    const datastore = new MemoryDatastore()
    const history = new ChatHistory(datastore)
    await history.setNickname(ALICE, '  Alice  ')
    expect(conversation(history, ALICE).nickname).toBe('Alice')
    expect((await reloaded(datastore)).conversations.getSnapshot().find(entry => entry.peer === ALICE)?.nickname).toBe('Alice')
  })

  it('keeps at most 40 characters', async () => {
    const history = new ChatHistory(new MemoryDatastore())
    await history.setNickname(ALICE, 'n'.repeat(40))
    expect(conversation(history, ALICE).nickname).toBe('n'.repeat(40))
    await history.setNickname(ALICE, `  ${'x'.repeat(45)}  `)
    expect(conversation(history, ALICE).nickname).toBe('x'.repeat(40))
  })

  it('never cuts a character in half at the limit', async () => {
    const history = new ChatHistory(new MemoryDatastore())
    // 39 letters and an emoji (two UTF-16 units): a UTF-16 cut would leave a lone surrogate.
    await history.setNickname(ALICE, `${'a'.repeat(39)}😀b`)
    const nickname = conversation(history, ALICE).nickname ?? ''
    expect(nickname).toBe(`${'a'.repeat(39)}😀`)
    expect(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(nickname)).toBe(false)
    await history.setNickname(ALICE, '😀'.repeat(45))
    expect(conversation(history, ALICE).nickname).toBe('😀'.repeat(40))
  })

  it('clears the nickname when it is empty or whitespace', async () => {
    const history = new ChatHistory(new MemoryDatastore())
    await history.setNickname(ALICE, 'Alice')
    await history.setNickname(ALICE, ' \t ')
    expect(conversation(history, ALICE).nickname).toBeUndefined()
    await history.setNickname(ALICE, 'Alice')
    await history.setNickname(ALICE, '')
    expect(conversation(history, ALICE).nickname).toBeUndefined()
  })

  it('does not affect the outgoing sequence', async () => {
    const history = new ChatHistory(new MemoryDatastore())
    await history.setNickname(ALICE, 'Alice')
    expect((await history.addOutgoing(ALICE, newId(), 'hi', T0)).sequence).toBe(1)
  })
})

describe('snapshots', () => {
  it('open() creates an empty conversation', () => {
    const history = new ChatHistory(new MemoryDatastore())
    history.open(ALICE)
    expect(conversation(history, ALICE)).toMatchObject({ peer: ALICE, messages: [], unread: 0, lastActivity: 0 })
  })

  it('coalesces a burst of changes into one store update', async () => {
    const history = new ChatHistory(new MemoryDatastore())
    const listener = vi.fn()
    history.conversations.subscribe(listener)
    for (let sequence = 1; sequence <= 50; sequence++) await history.addIncoming(ALICE, incoming(sequence))
    expect(listener).not.toHaveBeenCalled()
    vi.advanceTimersByTime(30)
    expect(listener).toHaveBeenCalledTimes(1)
    expect(history.conversations.getSnapshot()[0]?.messages).toHaveLength(50)
  })

  it('sorts conversations by last activity, most recent first', async () => {
    const history = new ChatHistory(new MemoryDatastore())
    await history.addIncoming(ALICE, incoming(1, { receivedAt: T0 + 10 }))
    await history.addOutgoing(BOB, newId(), 'hi', T0 + 30)
    await history.addIncoming(CAROL, incoming(1, { receivedAt: T0 + 20 }))
    expect(conversations(history).map(entry => [entry.peer, entry.lastActivity])).toEqual([[BOB, T0 + 30], [CAROL, T0 + 20], [ALICE, T0 + 10]])
  })

  it('setPath shows the path and only publishes on a change', async () => {
    const history = new ChatHistory(new MemoryDatastore())
    history.open(ALICE)
    vi.advanceTimersByTime(30)
    const listener = vi.fn()
    history.conversations.subscribe(listener)
    history.setPath(ALICE, 'webrtc')
    vi.advanceTimersByTime(30)
    expect(listener).toHaveBeenCalledTimes(1)
    expect(history.conversations.getSnapshot()[0]?.path).toBe('webrtc')
    history.setPath(ALICE, 'webrtc')
    vi.advanceTimersByTime(30)
    expect(listener).toHaveBeenCalledTimes(1)
    history.setPath(ALICE, 'relayed')
    vi.advanceTimersByTime(30)
    expect(history.conversations.getSnapshot()[0]?.path).toBe('relayed')
  })

  it('hands out copies: changing a snapshot message does not change the history', async () => {
    const history = new ChatHistory(new MemoryDatastore())
    await history.addOutgoing(ALICE, newId(), 'original', T0)
    const message = conversation(history, ALICE).messages[0] as ChatMessage
    message.text = 'changed'
    message.state = 'delivered'
    expect(history.pending(ALICE)[0]?.text).toBe('original')
    history.open(ALICE)
    expect(conversation(history, ALICE).messages[0]?.text).toBe('original')
  })
})

describe('loading', () => {
  it('skips corrupt entries and keeps the rest', async () => {
    const datastore = new MemoryDatastore()
    const history = new ChatHistory(datastore)
    await history.addOutgoing(ALICE, newId(), 'kept', T0)
    await history.addIncoming(ALICE, incoming(1, { text: 'kept too' }))
    await datastore.put(new Key(`/chat/${ALICE}/in/000000000002/${newId()}`), fromString('{"id":"trunc'))
    await datastore.put(new Key(`/chat/${ALICE}/in/000000000003/${newId()}`), Uint8Array.of(0xff, 0xfe, 0x00))
    await datastore.put(new Key(`/chat/${BOB}/meta`), fromString('not json'))

    const after = await reloaded(datastore)
    const snapshot = after.conversations.getSnapshot()
    expect(snapshot.find(entry => entry.peer === ALICE)?.messages.map(message => message.text)).toEqual(['kept', 'kept too'])
    expect(snapshot.find(entry => entry.peer === ALICE)?.messages).toHaveLength(2)
    // Bob's unreadable meta is replaced by a fresh one.
    expect((await after.addOutgoing(BOB, newId(), 'hi', T0)).sequence).toBe(1)
  })

  it.each(['null', '42', '"text"', 'true'])('skips a stored entry that is JSON but no object (%s)', async (json) => {
    const datastore = new MemoryDatastore()
    const history = new ChatHistory(datastore)
    await history.addIncoming(ALICE, incoming(1, { text: 'kept' }))
    await datastore.put(new Key(`/chat/${ALICE}/in/000000000002/${newId()}`), fromString(json))
    await datastore.put(new Key(`/chat/${BOB}/meta`), fromString(json))
    const after = await reloaded(datastore)
    expect(after.conversations.getSnapshot().find(entry => entry.peer === ALICE)?.messages.map(message => message.text)).toEqual(['kept'])
    expect((await after.addOutgoing(BOB, newId(), 'hi', T0)).sequence).toBe(1)
  })

  it('publishes the loaded history at once, without waiting for the coalescing timer', async () => {
    const datastore = new MemoryDatastore()
    const history = new ChatHistory(datastore)
    await history.addIncoming(ALICE, incoming(1))
    const after = new ChatHistory(datastore)
    expect(after.conversations.getSnapshot()).toEqual([])
    await after.load()
    expect(after.conversations.getSnapshot()).toHaveLength(1)
  })

  it('ignores keys outside /chat', async () => {
    const datastore = new MemoryDatastore()
    await datastore.put(new Key('/other/thing'), fromString('{}'))
    const history = await reloaded(datastore)
    expect(history.conversations.getSnapshot()).toEqual([])
  })
})

describe('pruning', () => {
  /** Writes `count` stored messages straight into the datastore, as earlier sessions would have. */
  async function seed (datastore: MemoryDatastore, peer: string, messages: ChatMessage[], meta: Record<string, unknown>): Promise<void> {
    const batch = datastore.batch()
    for (const message of messages) {
      batch.put(new Key(`/chat/${peer}/${message.direction}/${message.sequence.toString().padStart(12, '0')}/${message.id}`), fromString(JSON.stringify(message)))
    }
    batch.put(new Key(`/chat/${peer}/meta`), fromString(JSON.stringify(meta)))
    await batch.commit()
  }

  const stored = (peer: string, direction: 'in' | 'out', sequence: number, fields: Partial<ChatMessage> = {}): ChatMessage => ({
    id: `${direction}-${sequence}`, peer, direction, sequence, text: `${direction} ${sequence}`, sentAt: T0 + sequence, ...(direction === 'in' ? { receivedAt: T0 + sequence } : { state: 'delivered', attempts: 0 }), ...fields
  })

  async function count (datastore: MemoryDatastore, prefix: string): Promise<number> {
    let total = 0
    for await (const _ of datastore.queryKeys({ prefix })) total++
    return total
  }

  it('keeps 5000 messages per conversation: the oldest goes, from memory and storage', async () => {
    expect(MAX_MESSAGES_PER_CONVERSATION).toBe(5000)
    const datastore = new MemoryDatastore()
    const messages = Array.from({ length: MAX_MESSAGES_PER_CONVERSATION }, (_, index) => stored(ALICE, 'in', index + 1))
    await seed(datastore, ALICE, messages, { nextOutgoingSequence: 1, contiguousIncoming: MAX_MESSAGES_PER_CONVERSATION, lastReadAt: 0 })
    const history = await reloaded(datastore)
    expect(history.conversations.getSnapshot()[0]?.messages).toHaveLength(MAX_MESSAGES_PER_CONVERSATION)

    expect(await history.addIncoming(ALICE, incoming(MAX_MESSAGES_PER_CONVERSATION + 1))).toBe(true)
    const shown = conversation(history, ALICE).messages
    expect(shown).toHaveLength(MAX_MESSAGES_PER_CONVERSATION)
    expect(shown[0]?.sequence).toBe(2)
    expect(shown.at(-1)?.sequence).toBe(MAX_MESSAGES_PER_CONVERSATION + 1)
    expect(await count(datastore, `/chat/${ALICE}/in`)).toBe(MAX_MESSAGES_PER_CONVERSATION)
    expect(await datastore.has(new Key(`/chat/${ALICE}/in/000000000001/in-1`))).toBe(false)
    // The pruned message is still recognised as a duplicate.
    expect(await history.addIncoming(ALICE, incoming(1))).toBe(false)
  })

  it('never prunes outgoing messages that are not yet delivered', async () => {
    const datastore = new MemoryDatastore()
    const pending = Array.from({ length: MAX_MESSAGES_PER_CONVERSATION - 1 }, (_, index) => stored(ALICE, 'out', index + 1, { state: 'sending' }))
    const oldIncoming = stored(ALICE, 'in', 1)
    await seed(datastore, ALICE, [...pending, oldIncoming], { nextOutgoingSequence: MAX_MESSAGES_PER_CONVERSATION, contiguousIncoming: 1, lastReadAt: 0 })
    const history = await reloaded(datastore)
    expect(await history.addIncoming(ALICE, incoming(2))).toBe(true)
    expect(history.pending(ALICE)).toHaveLength(MAX_MESSAGES_PER_CONVERSATION - 1)
    const shown = conversation(history, ALICE).messages
    expect(shown).toHaveLength(MAX_MESSAGES_PER_CONVERSATION)
    expect(shown.filter(message => message.direction === 'in').map(message => message.sequence)).toEqual([2])
    expect(await count(datastore, `/chat/${ALICE}/out`)).toBe(MAX_MESSAGES_PER_CONVERSATION - 1)
  })

  it('keeps a new incoming message even when everything else is undelivered outgoing', async () => {
    const datastore = new MemoryDatastore()
    const pending = Array.from({ length: MAX_MESSAGES_PER_CONVERSATION }, (_, index) => stored(ALICE, 'out', index + 1, { state: 'sending' }))
    await seed(datastore, ALICE, pending, { nextOutgoingSequence: MAX_MESSAGES_PER_CONVERSATION + 1, contiguousIncoming: 0, lastReadAt: 0 })
    const history = await reloaded(datastore)
    expect(await history.addIncoming(ALICE, incoming(1))).toBe(true)
    expect(conversation(history, ALICE).messages.filter(message => message.direction === 'in').map(message => message.sequence)).toEqual([1])
    expect(await count(datastore, `/chat/${ALICE}/in`)).toBe(1)
  })

  it('prunes delivered outgoing messages like incoming ones', async () => {
    const datastore = new MemoryDatastore()
    const delivered = stored(ALICE, 'out', 1)
    const rest = Array.from({ length: MAX_MESSAGES_PER_CONVERSATION - 1 }, (_, index) => stored(ALICE, 'in', index + 1))
    await seed(datastore, ALICE, [delivered, ...rest], { nextOutgoingSequence: 2, contiguousIncoming: MAX_MESSAGES_PER_CONVERSATION - 1, lastReadAt: 0 })
    const history = await reloaded(datastore)
    expect(await history.addIncoming(ALICE, incoming(MAX_MESSAGES_PER_CONVERSATION))).toBe(true)
    expect(conversation(history, ALICE).messages.some(message => message.direction === 'out')).toBe(false)
    expect(await count(datastore, `/chat/${ALICE}/out`)).toBe(0)
  })

  it('does not prune other conversations', async () => {
    const datastore = new MemoryDatastore()
    const messages = Array.from({ length: MAX_MESSAGES_PER_CONVERSATION }, (_, index) => stored(ALICE, 'in', index + 1))
    await seed(datastore, ALICE, messages, { nextOutgoingSequence: 1, contiguousIncoming: MAX_MESSAGES_PER_CONVERSATION, lastReadAt: 0 })
    const history = await reloaded(datastore)
    await history.addIncoming(BOB, incoming(1))
    expect(conversation(history, ALICE).messages).toHaveLength(MAX_MESSAGES_PER_CONVERSATION)
    expect(conversation(history, BOB).messages).toHaveLength(1)
  })
})
