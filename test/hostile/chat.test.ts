import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { lpStream } from '@libp2p/utils'
import { MemoryDatastore } from 'datastore-core'
import { Key } from 'interface-datastore'
import { concat, fromString, toString } from 'uint8arrays'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { varint } from '../helpers/varint.ts'
import { settled } from '../helpers/settled.ts'
import { streamEnd } from '../helpers/streams.ts'
import { within } from '../helpers/wait.ts'
import { CHAT_PROTOCOL, MAX_CHAT_TEXT_BYTES } from '../../src/p2p/services/chat/index.ts'
import { MAX_MESSAGES_PER_CONVERSATION } from '../../src/p2p/services/chat/chat-history.ts'
import { decodeChatFrame, encodeChatFrame } from '../../src/p2p/services/chat/chat-codec.ts'
import { startChatNode } from '../p2p/services/chat/chat-nodes.ts'
import type { ChatNode } from '../p2p/services/chat/chat-nodes.ts'
import type { ChatServiceInit, Conversation } from '../../src/p2p/services/chat/index.ts'
import type { Stream } from '@libp2p/interface'

/**
 * Hostile peers against the chat service of real in-process webkad nodes (createWebkadNode on
 * the memory transport). Mallory is a webkad node whose code writes raw frames on
 * /webkad/chat/1.0.0: length-prefix bombs, malformed protobuf, too many streams, floods, and
 * frames that claim another sender's message.
 */

const nodes: ChatNode[] = []

afterEach(async () => {
  await Promise.all(nodes.splice(0).map(async node => { await node.stop() }))
})

async function start (init: ChatServiceInit & { datastore?: MemoryDatastore } = {}): Promise<ChatNode> {
  const node = await startChatNode(init)
  nodes.push(node)
  return node
}

const signal = (ms = 10_000): AbortSignal => AbortSignal.timeout(ms)

function id (seed: number): Uint8Array {
  const bytes = new Uint8Array(16)
  new DataView(bytes.buffer).setUint32(12, seed)
  bytes[0] = 0xaa
  return bytes
}

function message (sequence: number, text = `flood ${sequence}`): Uint8Array {
  return encodeChatFrame({ kind: 'message', id: id(sequence), sequence: BigInt(sequence), sentAt: Date.now(), text })
}

function conversationWith (node: ChatNode, peer: ChatNode): Conversation | undefined {
  return node.services.chat.conversations.getSnapshot().find(entry => entry.peer === peer.peerId.toString())
}

function incoming (node: ChatNode, from: ChatNode): number {
  return conversationWith(node, from)?.messages.filter(entry => entry.direction === 'in').length ?? 0
}

function incomingTexts (node: ChatNode, from: ChatNode): string[] {
  return (conversationWith(node, from)?.messages ?? []).filter(entry => entry.direction === 'in').map(entry => entry.text)
}

/** Inbound chat streams `node` has open from `peer`, over all their connections. */
function inboundChatStreams (node: ChatNode, peer: ChatNode): number {
  return node.getConnections(peer.peerId).flatMap(connection => connection.streams)
    .filter(stream => stream.protocol === CHAT_PROTOCOL && stream.direction === 'inbound').length
}

function connected (a: ChatNode, b: ChatNode): boolean {
  return a.getConnections(b.peerId).some(connection => connection.status === 'open')
}


const lengthPrefixed = (body: Uint8Array): Uint8Array => concat([varint(body.length), body])

/** A garbage-collected heap size, so before/after comparisons measure what is retained. */
function heapUsed (): number {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as (() => void) | undefined
  gc?.()
  return process.memoryUsage().heapUsed
}

describe('a hostile chat peer', () => {
  it('gets only its stream reset for length-prefix bombs and malformed frames; the node chats on', async () => {
    const honest = await start()
    const mallory = await start()
    const bob = await start()
    await mallory.dial(honest.getMultiaddrs()[0]!)
    await bob.dial(honest.getMultiaddrs()[0]!)
    const ok = { id: id(1), sequence: 1n, sentAt: Date.now(), text: 'x' }
    const canonical = encodeChatFrame({ kind: 'message', ...ok })
    const attacks: Array<{ name: string, bytes: Uint8Array }> = [
      { name: '4 GiB length prefix', bytes: Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x10, 1, 2, 3) },
      { name: '2 MiB length prefix (3-byte varint)', bytes: Uint8Array.of(0x80, 0x80, 0x80, 0x01) },
      { name: 'a length varint that never ends', bytes: new Uint8Array(32).fill(0xff) },
      { name: 'garbage protobuf', bytes: lengthPrefixed(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f)) },
      { name: 'unknown field', bytes: lengthPrefixed(concat([canonical, Uint8Array.of(0x78, 0x01)])) },
      { name: 'fields out of order', bytes: lengthPrefixed(concat([canonical.subarray(18), canonical.subarray(0, 18)])) },
      { name: 'invalid UTF-8 (encoded lone surrogate)', bytes: lengthPrefixed(concat([canonical.subarray(0, canonical.length - 3), Uint8Array.of(0x2a, 0x03, 0xed, 0xa0, 0x80)])) },
      { name: 'text over 16 KiB', bytes: lengthPrefixed(encodeChatFrame({ kind: 'message', ...ok, text: 'x'.repeat(MAX_CHAT_TEXT_BYTES + 1) })) },
      { name: 'sentAt past 2^53', bytes: lengthPrefixed(encodeChatFrame({ kind: 'message', ...ok, sentAt: 2 ** 60 })) },
      { name: 'a 15-byte id', bytes: lengthPrefixed(encodeChatFrame({ kind: 'message', ...ok, id: new Uint8Array(15) })) },
      { name: 'sequence 0', bytes: lengthPrefixed(encodeChatFrame({ kind: 'message', ...ok, sequence: 0n })) },
      { name: 'an ack where a message belongs', bytes: lengthPrefixed(encodeChatFrame({ kind: 'ack', id: id(1), sequence: 1n })) }
    ]
    for (const attack of attacks) {
      const stream = await mallory.dialProtocol(honest.peerId, CHAT_PROTOCOL, { signal: signal() })
      stream.send(attack.bytes)
      expect(await streamEnd(stream), attack.name).toBe('reset')
      expect(connected(mallory, honest), `${attack.name}: the connection stays`).toBe(true)
    }
    expect(incoming(honest, mallory)).toBe(0)
    expect(honest.status).toBe('started')
    // The honest path is untouched, and so is mallory's own next well-formed stream.
    await bob.services.chat.send(honest.peerId, 'hello from bob')
    await mallory.services.chat.send(honest.peerId, 'mallory behaving')
    await vi.waitFor(() => {
      expect({ bob: incomingTexts(honest, bob), mallory: incomingTexts(honest, mallory) }).toEqual({ bob: ['hello from bob'], mallory: ['mallory behaving'] })
    }, within(10_000))
  })

  it('has inbound streams beyond maxInboundStreams refused, per connection, without a crash', async () => {
    const limit = 4
    const honest = await start({ maxInboundStreams: limit, idleTimeoutMs: 30_000 })
    const mallory = await start()
    const bob = await start()
    await mallory.dial(honest.getMultiaddrs()[0]!)
    await bob.dial(honest.getMultiaddrs()[0]!)

    // Mallory fills every slot with a stream she keeps open after one acknowledged message.
    const held: Stream[] = []
    for (let index = 1; index <= limit; index++) {
      const stream = await mallory.dialProtocol(honest.peerId, CHAT_PROTOCOL, { signal: signal() })
      const lp = lpStream(stream)
      await lp.write(message(index))
      expect(decodeChatFrame(await lp.read({ signal: signal() })).kind).toBe('ack')
      held.push(stream)
    }
    expect(inboundChatStreams(honest, mallory)).toBe(limit)
    // Every stream past the limit is refused the same way: libp2p negotiates the protocol, then
    // resets the stream (TooManyInboundProtocolStreamsError) before the chat handler sees it, so
    // its message gets no ack, and the honest node never holds more than `limit` of her streams.
    const outcomes: string[] = []
    for (let index = 0; index < 6; index++) {
      const opened = await settled(mallory.dialProtocol(honest.peerId, CHAT_PROTOCOL, { signal: signal() }))
      if (opened.status === 'rejected') {
        outcomes.push(`not opened: ${(opened.reason as Error).name}`)
        continue
      }
      const stream = opened.value
      const lp = lpStream(stream)
      const reply = await settled((async () => {
        await lp.write(message(100 + index))
        return decodeChatFrame(await lp.read({ signal: signal(3000) })).kind
      })())
      outcomes.push(reply.status === 'fulfilled' ? `served (${reply.value})` : `${await streamEnd(stream)} without a reply`)
      expect(inboundChatStreams(honest, mallory), `after extra stream ${index}`).toBe(limit)
    }
    expect(outcomes).toEqual(Array<string>(6).fill('reset without a reply'))
    // Only the held streams' messages are stored (an extra one would have been acked first).
    await vi.waitFor(() => { expect(incoming(honest, mallory), 'mallory\'s messages stored').toBe(limit) }, within(5000))
    expect(honest.status).toBe('started')
    expect(connected(mallory, honest)).toBe(true)

    // The limit is per connection: bob is served while mallory holds all of hers.
    await bob.services.chat.send(honest.peerId, 'not blocked by mallory')
    await vi.waitFor(() => { expect(incomingTexts(honest, bob)).toEqual(['not blocked by mallory']) }, within(10_000))

    // Once mallory lets go, she gets a slot again.
    await Promise.all(held.map(async stream => { await stream.close({ signal: signal() }) }))
    await vi.waitFor(() => { expect(inboundChatStreams(honest, mallory), 'mallory\'s chat streams on the honest node').toBe(0) }, within(5000))
    const again = lpStream(await mallory.dialProtocol(honest.peerId, CHAT_PROTOCOL, { signal: signal() }))
    await again.write(message(limit + 1))
    expect(decodeChatFrame(await again.read({ signal: signal() })).kind).toBe('ack')
  })

  it('is slowed to the rate limit when it floods, while an honest peer is served at once', async () => {
    const rate = 200
    const burst = 50
    const total = 850 // (850 - 50) / 200 = at least 4 s when throttled
    const honest = await start({ messagesPerSecond: rate, burst, idleTimeoutMs: 30_000 })
    const mallory = await start()
    const bob = await start()
    await mallory.dial(honest.getMultiaddrs()[0]!)
    await bob.dial(honest.getMultiaddrs()[0]!)

    const stream = await mallory.dialProtocol(honest.peerId, CHAT_PROTOCOL, { signal: signal() })
    const lp = lpStream(stream)
    const started = performance.now()
    // Thousands of frames as fast as the stream takes them, acks read on the side.
    const acks = (async () => {
      for (let count = 0; count < total; count++) decodeChatFrame(await lp.read({ signal: signal(30_000) }))
      return performance.now() - started
    })()
    for (let sequence = 1; sequence <= total; sequence++) await lp.write(message(sequence))

    // Sample how many were stored: never more than the burst plus the rate times the elapsed time.
    const samples: Array<{ at: number, stored: number }> = []
    let malloryStoredWhenBobArrived: number | undefined
    const bobSends = (async () => {
      await vi.waitFor(() => { expect(incoming(honest, mallory), 'mallory\'s stored flood').toBeGreaterThan(burst) }, within(10_000))
      await bob.services.chat.send(honest.peerId, 'still served')
      await vi.waitFor(() => { expect(incomingTexts(honest, bob), 'bob during the flood').toEqual(['still served']) }, within(10_000))
      malloryStoredWhenBobArrived = incoming(honest, mallory)
    })()
    while (incoming(honest, mallory) < total && performance.now() - started < 20_000) {
      samples.push({ at: (performance.now() - started) / 1000, stored: incoming(honest, mallory) })
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    const elapsed = await acks
    await bobSends
    for (const sample of samples) {
      // + 40 ms of the sample's own publication delay and a little slack for timer jitter.
      expect(sample.stored, `at ${sample.at.toFixed(2)} s`).toBeLessThanOrEqual(burst + rate * (sample.at + 0.04) + 20)
    }
    expect(elapsed).toBeGreaterThanOrEqual(((total - burst) / rate) * 1000 * 0.9)
    expect(incoming(honest, mallory)).toBe(total)
    // Bob's bucket is his own: he was served while mallory was still being throttled (had he
    // queued behind her, he would have come after all of her messages).
    expect(malloryStoredWhenBobArrived).toBeLessThan(total)
    await stream.close()
  }, 40_000)

  it('cannot grow the history past its cap, and the heap stays bounded', async () => {
    const mallory = await start()
    const peer = mallory.peerId.toString()
    const text = 'm'.repeat(512)
    // Storing one message costs O(history) (chat-history.ts scans the conversation), so filling
    // 5000 messages through the wire takes tens of seconds on a busy machine. Instead the node
    // starts with mallory's conversation nearly full, written in chat-history.ts's storage layout
    // (/chat/<peer>/in/<12-digit sequence>/<id> and /chat/<peer>/meta, JSON), and the flood
    // pushes it past the cap. Should that layout change, nothing loads and the counts below fail.
    const prefilled = MAX_MESSAGES_PER_CONVERSATION - 10
    const datastore = new MemoryDatastore()
    const batch = datastore.batch()
    for (let sequence = 1; sequence <= prefilled; sequence++) {
      const stored = { id: toString(id(sequence), 'base16'), sequence, text: `${sequence} ${text}`, sentAt: 1, receivedAt: 1, peer, direction: 'in' }
      batch.put(new Key(`/chat/${peer}/in/${sequence.toString().padStart(12, '0')}/${stored.id}`), fromString(JSON.stringify(stored)))
    }
    batch.put(new Key(`/chat/${peer}/meta`), fromString(JSON.stringify({ nextOutgoingSequence: 1, contiguousIncoming: prefilled, lastReadAt: 0 })))
    await batch.commit()
    // Rate limiting is not what this test is about: let the flood in at full speed.
    const honest = await start({ datastore, messagesPerSecond: 1_000_000, burst: 1_000_000, idleTimeoutMs: 30_000 })
    await mallory.dial(honest.getMultiaddrs()[0]!)
    await vi.waitFor(() => { expect(incoming(honest, mallory), 'the stored conversation').toBe(prefilled) }, within(5000))
    const before = heapUsed()

    // 600 more frames written at once, acks read on the side.
    const total = prefilled + 600
    const stream = await mallory.dialProtocol(honest.peerId, CHAT_PROTOCOL, { signal: signal() })
    const lp = lpStream(stream)
    const acks = (async () => {
      for (let sequence = prefilled + 1; sequence <= total; sequence++) decodeChatFrame(await lp.read({ signal: signal(30_000) }))
    })()
    for (let sequence = prefilled + 1; sequence <= total; sequence++) await lp.write(message(sequence, `${sequence} ${text}`))
    await acks
    await stream.close()
    await vi.waitFor(() => { expect(conversationWith(honest, mallory)?.messages.at(-1)?.sequence, 'the last message stored').toBe(total) }, within(5000))

    expect(incoming(honest, mallory)).toBe(MAX_MESSAGES_PER_CONVERSATION)
    let stored = 0
    for await (const _entry of datastore.query({ prefix: `/chat/${peer}/in` })) stored++
    expect(stored).toBe(MAX_MESSAGES_PER_CONVERSATION)
    // The oldest were dropped, the newest kept.
    const kept = honest.services.chat.conversations.getSnapshot().find(entry => entry.peer === peer)!.messages
    expect(kept[0]!.sequence).toBe(total - MAX_MESSAGES_PER_CONVERSATION + 1)
    expect(kept.at(-1)!.sequence).toBe(total)

    // At the cap every new message replaces an old one: the heap does not keep growing. The bound
    // is generous (GC timing, the coalesced UI snapshots) yet far below a leak of frames/buffers.
    const grown = heapUsed() - before
    expect(grown).toBeLessThan(32 * 1024 * 1024)
    console.log(`chat flood past the cap: 600 messages of 512 bytes, heap grew ${(grown / 1024 / 1024).toFixed(1)} MiB`)
  }, 60_000)

  it('gets only its stream reset when it floods more than 4 MiB without reading acks', async () => {
    const honest = await start({ messagesPerSecond: 1_000_000, burst: 1_000_000, idleTimeoutMs: 30_000 })
    const mallory = await start()
    const bob = await start()
    await mallory.dial(honest.getMultiaddrs()[0]!)
    await bob.dial(honest.getMultiaddrs()[0]!)
    const stream = await mallory.dialProtocol(honest.peerId, CHAT_PROTOCOL, { signal: signal() })
    // 16 KiB frames, never reading an ack: the receiver's read buffer (4 MiB) overflows.
    const frame = lengthPrefixed(message(1, 'f'.repeat(MAX_CHAT_TEXT_BYTES - 16)))
    let sent = 0
    while (stream.status === 'open' && sent < 64 * 1024 * 1024) {
      if (!stream.send(frame)) await stream.onDrain({ signal: signal() }).catch(() => {})
      sent += frame.length
    }
    expect(await streamEnd(stream)).toBe('reset')
    expect(sent).toBeLessThan(64 * 1024 * 1024)
    expect(connected(mallory, honest)).toBe(true)
    expect(honest.status).toBe('started')
    await bob.services.chat.send(honest.peerId, 'unaffected')
    await vi.waitFor(() => { expect(incomingTexts(honest, bob)).toEqual(['unaffected']) }, within(10_000))
  })

  it('cannot speak for anyone else: a frame copying another sender\'s message and a made-up time is filed as its sender\'s, and changes nothing of the other conversation', async () => {
    const honest = await start()
    const mallory = await start()
    const bob = await start()
    await mallory.dial(honest.getMultiaddrs()[0]!)
    await bob.dial(honest.getMultiaddrs()[0]!)
    await bob.services.chat.send(honest.peerId, 'hello from bob')
    await vi.waitFor(() => { expect(incomingTexts(honest, bob)).toEqual(['hello from bob']) }, within(10_000))
    const bobs = conversationWith(honest, bob)!.messages[0]!

    // A frame names no sender; what mallory can forge is all the rest. She copies bob's message
    // (its id and sequence: ids are no secret to whoever saw the message), takes the sequences
    // bob will use next, says "this is bob", and dates it a year ahead.
    const claimedSentAt = Date.now() + 365 * 24 * 60 * 60 * 1000
    const stream = await mallory.dialProtocol(honest.peerId, CHAT_PROTOCOL, { signal: signal() })
    const lp = lpStream(stream)
    for (const sequence of [1, 2, 3]) {
      const frameId = sequence === bobs.sequence ? fromString(bobs.id, 'base16') : id(sequence)
      await lp.write(encodeChatFrame({ kind: 'message', id: frameId, sequence: BigInt(sequence), sentAt: claimedSentAt, text: `this is ${bob.peerId.toString()} speaking (${sequence})` }))
      expect(decodeChatFrame(await lp.read({ signal: signal() })), `mallory's frame ${sequence}`).toMatchObject({ kind: 'ack', sequence: BigInt(sequence) })
    }
    await stream.close()
    await vi.waitFor(() => { expect(incoming(honest, mallory), 'mallory\'s frames stored').toBe(3) }, within(5000))

    // Everything she wrote is filed under her, the connection's authenticated peer: none of it
    // was taken for a duplicate of bob's message, none of it landed in bob's conversation.
    const mallorys = conversationWith(honest, mallory)!.messages
    expect(mallorys.map(entry => [entry.peer, entry.direction, entry.sequence])).toEqual([1, 2, 3].map(sequence => [mallory.peerId.toString(), 'in', sequence]))
    expect(mallorys[0]!.id).toBe(bobs.id)
    expect(incomingTexts(honest, bob)).toEqual(['hello from bob'])
    // Bob's next message (his sequence 2, which mallory used too) is still his, not a duplicate.
    const lastHeardFromMallory = Math.max(...mallorys.map(entry => entry.receivedAt!))
    await vi.waitFor(() => { expect(Date.now()).toBeGreaterThan(lastHeardFromMallory) }, within(1000))
    await bob.services.chat.send(honest.peerId, 'bob again')
    await vi.waitFor(() => { expect(incomingTexts(honest, bob)).toEqual(['hello from bob', 'bob again']) }, within(10_000))
    // Her date is kept as what she claims (sentAt), but the conversation list orders by when this
    // node heard each peer: bob spoke last, so he comes first, whatever mallory's clock says.
    expect(mallorys.every(entry => entry.sentAt === claimedSentAt && entry.receivedAt! < claimedSentAt)).toBe(true)
    expect(honest.services.chat.conversations.getSnapshot().map(entry => entry.peer)).toEqual([bob.peerId.toString(), mallory.peerId.toString()])
  })
})
