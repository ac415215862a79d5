import { lpStream } from '@libp2p/utils'
import { MemoryDatastore } from 'datastore-core'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { CHAT_PROTOCOL } from '../../../../src/p2p/services/chat/index.ts'
import { encodeChatFrame } from '../../../../src/p2p/services/chat/chat-codec.ts'
import { within } from '../../../helpers/wait.ts'
import { startChatNode } from './chat-nodes.ts'
import type { ChatNode } from './chat-nodes.ts'
import type { Conversation } from '../../../../src/p2p/services/chat/index.ts'

const nodes: ChatNode[] = []

async function pair (init = {}): Promise<[ChatNode, ChatNode]> {
  const alice = await startChatNode(init)
  const bob = await startChatNode(init)
  nodes.push(alice, bob)
  await alice.dial(bob.getMultiaddrs()[0]!)
  return [alice, bob]
}

function conversationWith (node: ChatNode, peer: ChatNode): Conversation | undefined {
  return node.services.chat.conversations.getSnapshot().find(conversation => conversation.peer === peer.peerId.toString())
}

function incomingTexts (node: ChatNode, peer: ChatNode): string[] {
  return (conversationWith(node, peer)?.messages ?? []).filter(message => message.direction === 'in').map(message => message.text)
}

afterEach(async () => {
  await Promise.all(nodes.splice(0).map(async node => { await node.stop() }))
})

describe('chat service between two real libp2p nodes', () => {
  it('delivers a 1000-message burst complete, in order, and marks each delivered', async () => {
    const [alice, bob] = await pair()
    const texts = Array.from({ length: 1000 }, (_, index) => `message ${index + 1}`)
    const started = performance.now()
    for (const text of texts) await alice.services.chat.send(bob.peerId, text)
    await vi.waitFor(() => { expect(incomingTexts(bob, alice), 'messages bob has').toHaveLength(1000) }, within(60_000))
    await vi.waitFor(() => {
      expect(conversationWith(alice, bob)?.messages.filter(message => message.state !== 'delivered'), 'messages alice has no ack for').toEqual([])
    }, within(20_000))
    const elapsed = performance.now() - started
    expect(incomingTexts(bob, alice)).toEqual(texts)
    const sequences = conversationWith(bob, alice)!.messages.map(message => message.sequence)
    expect(sequences).toEqual(texts.map((_, index) => index + 1))
    // Figure for the closing note, not an assertion on speed.
    console.log(`chat burst: 1000 messages over the memory transport in ${elapsed.toFixed(0)} ms`)
  }, 90_000)

  it('names the authenticated sender and keeps the conversation both ways', async () => {
    const [alice, bob] = await pair()
    await alice.services.chat.send(bob.peerId, 'hi bob')
    await vi.waitFor(() => { expect(incomingTexts(bob, alice)).toEqual(['hi bob']) }, within(20_000))
    await vi.waitFor(() => { expect(conversationWith(bob, alice)?.unread, 'bob\'s unread count').toBe(1) }, within(20_000))
    await bob.services.chat.markRead(alice.peerId)
    await vi.waitFor(() => { expect(conversationWith(bob, alice)?.unread, 'bob\'s unread count after reading').toBe(0) }, within(20_000))
    await bob.services.chat.send(alice.peerId, 'hi alice')
    await vi.waitFor(() => { expect(incomingTexts(alice, bob)).toHaveLength(1) }, within(20_000))
    expect(conversationWith(bob, alice)?.peer).toBe(alice.peerId.toString())
    expect(incomingTexts(alice, bob)).toEqual(['hi alice'])
    expect(conversationWith(alice, bob)?.unread).toBe(1)
  })

  it('refuses text over 16 KiB before sending', async () => {
    const [alice, bob] = await pair()
    await expect(alice.services.chat.send(bob.peerId, 'x'.repeat(16 * 1024 + 1))).rejects.toMatchObject({ name: 'MessageTooLongError' })
    await expect(alice.services.chat.send(bob.peerId, '   ')).rejects.toMatchObject({ name: 'InvalidMessageTextError' })
    expect(conversationWith(alice, bob)?.messages ?? []).toHaveLength(0)
  })

  it('delivers a message written while the peer was unreachable once it is back, exactly once', async () => {
    const datastore = new MemoryDatastore()
    const alice = await startChatNode({ initialRetryDelayMs: 100 })
    const bob = await startChatNode({ datastore })
    nodes.push(alice, bob)
    const bobAddress = bob.getMultiaddrs()[0]!
    await alice.peerStore.merge(bob.peerId, { multiaddrs: [bobAddress] })
    await bob.stop()
    await alice.services.chat.send(bob.peerId, 'are you there?')
    await vi.waitFor(() => { expect(conversationWith(alice, bob)?.messages[0]?.state, 'the message while bob is away').toBe('retrying') }, within(10_000))
    await bob.start()
    await vi.waitFor(() => { expect(incomingTexts(bob, alice), 'bob after his restart').toContain('are you there?') }, within(20_000))
    await vi.waitFor(() => { expect(conversationWith(alice, bob)?.messages[0]?.state, 'the message once bob is back').toBe('delivered') }, within(20_000))
    // Nothing more of it arrives: alice delivers in order, one stream at a time, so a second copy
    // (a retry that outlived the delivery) would reach bob before her next message does.
    await alice.services.chat.send(bob.peerId, 'and now?')
    await vi.waitFor(() => { expect(incomingTexts(bob, alice), 'bob after alice\'s next message').toContain('and now?') }, within(20_000))
    expect(incomingTexts(bob, alice)).toEqual(['are you there?', 'and now?'])
    expect(conversationWith(alice, bob)?.messages.map(message => [message.text, message.state])).toEqual([['are you there?', 'delivered'], ['and now?', 'delivered']])
  })

  it('resets only the stream that sends a malformed, oversized or unknown frame', async () => {
    const [alice, bob] = await pair()
    const attacks: Array<{ name: string, bytes: Uint8Array }> = [
      { name: 'garbage', bytes: Uint8Array.from([0xff, 0xff, 0xff, 0x01]) },
      { name: 'unknown field', bytes: Uint8Array.from([...encodeChatFrame({ kind: 'message', id: new Uint8Array(16).fill(1), sequence: 1n, sentAt: Date.now(), text: 'x' }), 0x78, 0x01]) },
      { name: 'ack where a message belongs', bytes: encodeChatFrame({ kind: 'ack', id: new Uint8Array(16), sequence: 1n }) }
    ]
    for (const attack of attacks) {
      const stream = await alice.dialProtocol(bob.peerId, CHAT_PROTOCOL)
      const lp = lpStream(stream)
      await lp.write(attack.bytes)
      await expect(lp.read({ signal: AbortSignal.timeout(5000) }), attack.name).rejects.toThrow()
    }
    // A length prefix announcing 4 GiB: refused before any buffering.
    const bomb = await alice.dialProtocol(bob.peerId, CHAT_PROTOCOL)
    await bomb.send(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f]))
    await expect(lpStream(bomb).read({ signal: AbortSignal.timeout(5000) })).rejects.toThrow()

    // The node and the honest path still work.
    await alice.services.chat.send(bob.peerId, 'still here')
    await vi.waitFor(() => { expect(incomingTexts(bob, alice)).toContain('still here') }, within(20_000))
    expect(bob.status).toBe('started')
    expect(incomingTexts(bob, alice)).toEqual(['still here'])
  })
})
