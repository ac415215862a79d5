import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { describe, expect, it } from 'vitest'
import { preferredConnection } from '../../../src/p2p/network/duplicate-connections.ts'
import type { Connection, PeerId } from '@libp2p/interface'

async function twoPeers (): Promise<[PeerId, PeerId]> {
  const a = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  const b = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  return a.toString() < b.toString() ? [a, b] : [b, a]
}

function connection (remotePeer: PeerId, direction: 'inbound' | 'outbound', opened: number, status = 'open'): Connection {
  return { id: `${direction}-${opened}`, remotePeer, direction, status, timeline: { open: opened } } as unknown as Connection
}

describe('preferredConnection', () => {
  it('both sides keep the connection dialled by the smaller peer ID', async () => {
    const [smaller, larger] = await twoPeers()
    // As seen by the smaller peer: its own dial is outbound.
    const onSmaller = [connection(larger, 'inbound', 1), connection(larger, 'outbound', 2)]
    expect(preferredConnection(smaller, onSmaller)?.direction).toBe('outbound')
    // As seen by the larger peer: the same connection is inbound.
    const onLarger = [connection(smaller, 'outbound', 1), connection(smaller, 'inbound', 2)]
    expect(preferredConnection(larger, onLarger)?.direction).toBe('inbound')
  })

  it('falls back to the oldest open connection when none has the preferred direction', async () => {
    const [smaller, larger] = await twoPeers()
    const both = [connection(larger, 'inbound', 5), connection(larger, 'inbound', 3)]
    expect(preferredConnection(smaller, both)?.id).toBe('inbound-3')
  })

  it('keeps the newer connection when the two were not opened together (the peer reloaded)', async () => {
    const [smaller, larger] = await twoPeers()
    const stale = connection(larger, 'outbound', 1_000)
    const fresh = connection(larger, 'inbound', 30_000)
    expect(preferredConnection(smaller, [stale, fresh])?.id).toBe('inbound-30000')
    expect(preferredConnection(larger, [connection(smaller, 'inbound', 1_000), connection(smaller, 'outbound', 30_000)])?.id).toBe('outbound-30000')
  })

  it('has nothing to prefer without an open connection (the chat then opens one)', async () => {
    const [smaller, larger] = await twoPeers()
    expect(preferredConnection(smaller, [])).toBeUndefined()
    expect(preferredConnection(smaller, [connection(larger, 'outbound', 1, 'closed')])).toBeUndefined()
  })

  it('ignores connections that are no longer open', async () => {
    const [smaller, larger] = await twoPeers()
    const list = [connection(larger, 'outbound', 1, 'closing'), connection(larger, 'inbound', 2)]
    expect(preferredConnection(smaller, list)?.id).toBe('inbound-2')
  })
})
