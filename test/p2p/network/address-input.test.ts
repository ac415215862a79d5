import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { beforeAll, describe, expect, it } from 'vitest'
import { MAX_BOOTNODE_INPUT_CHARS, isLocalAddress, parseBootnodes, parsePeerIdInput } from '../../../src/p2p/network/address-input.ts'
import type { PeerId } from '@libp2p/interface'

let relayId: PeerId
let otherId: PeerId
let rsaId: PeerId

beforeAll(async () => {
  relayId = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  otherId = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  rsaId = peerIdFromPrivateKey(await generateKeyPair('RSA', 1024))
})

/** The error `work` throws; fails the test when it throws nothing. */
function thrown (work: () => unknown): Error {
  try {
    work()
  } catch (err) {
    return err as Error
  }
  throw new Error('expected an error')
}

function expectNamedError (work: () => unknown, name: string): void {
  const err = thrown(work)
  expect(err.name).toBe(name)
  expect(err.message.length).toBeGreaterThan(0)
}

describe('parseBootnodes', () => {
  it.each([
    ['empty', ''],
    ['spaces only', '    '],
    ['separators only', ' , \n\t,, '],
    ['text that is no multiaddr', 'hello relay'],
    ['a URL', 'ws://127.0.0.1:9090'],
    ['an unknown protocol', '/ip4/127.0.0.1/tcp/9090/wsx']
  ])('refuses %s', (_what, text) => {
    expectNamedError(() => parseBootnodes(text), 'InvalidMultiaddrError')
  })

  it('refuses a WebSocket multiaddr without /p2p/<peer ID>', () => {
    expectNamedError(() => parseBootnodes('/ip4/127.0.0.1/tcp/9090/ws'), 'InvalidMultiaddrError')
  })

  it('refuses a /p2p/ part that is no peer ID', () => {
    expectNamedError(() => parseBootnodes('/ip4/127.0.0.1/tcp/9090/ws/p2p/garbage'), 'InvalidMultiaddrError')
    expectNamedError(() => parseBootnodes('/ip4/127.0.0.1/tcp/9090/ws/p2p/bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi'), 'InvalidMultiaddrError')
  })

  it('refuses a TCP (not WebSocket) address', () => {
    expectNamedError(() => parseBootnodes(`/ip4/127.0.0.1/tcp/9090/p2p/${relayId.toString()}`), 'InvalidMultiaddrError')
  })

  const certhash = 'uEiA1VIZRFz7emFiYfIZGvQbUzfi-ebwAIJjp5QIcFHWpQA'

  it('accepts a WebRTC-Direct address with its certhash and peer ID', () => {
    const text = `/ip4/127.0.0.1/udp/9092/webrtc-direct/certhash/${certhash}/p2p/${relayId.toString()}`
    expect(parseBootnodes(text).map(String)).toEqual([text])
  })

  it('refuses a WebRTC-Direct address without certhash, saying so', () => {
    const err = thrown(() => parseBootnodes(`/ip4/127.0.0.1/udp/9092/webrtc-direct/p2p/${relayId.toString()}`))
    expect(err.name).toBe('InvalidMultiaddrError')
    expect(err.message).toMatch(/certhash/)
  })

  it.each([
    ['not a sha2-256 multihash', 'uAAAA'],
    ['a truncated hash', certhash.slice(0, 30)],
    ['not multibase text', '%%%']
  ])('refuses a WebRTC-Direct address whose certhash is %s', (_what, hash) => {
    expectNamedError(() => parseBootnodes(`/ip4/127.0.0.1/udp/9092/webrtc-direct/certhash/${hash}/p2p/${relayId.toString()}`), 'InvalidMultiaddrError')
  })

  it('refuses a WebRTC-direct address over TCP or a QUIC address a browser cannot use as a bootnode', () => {
    expectNamedError(() => parseBootnodes(`/ip4/127.0.0.1/tcp/9092/webrtc-direct/certhash/${certhash}/p2p/${relayId.toString()}`), 'InvalidMultiaddrError')
    expectNamedError(() => parseBootnodes(`/ip4/1.2.3.4/udp/4001/quic-v1/p2p/${relayId.toString()}`), 'InvalidMultiaddrError')
  })

  it(`refuses text longer than ${MAX_BOOTNODE_INPUT_CHARS} characters, even when it is valid`, () => {
    const address = `/ip4/127.0.0.1/tcp/9090/ws/p2p/${relayId.toString()}`
    const many = Array.from({ length: Math.ceil((MAX_BOOTNODE_INPUT_CHARS + 1) / (address.length + 1)) }, () => address).join(' ')
    expect(many.length).toBeGreaterThan(MAX_BOOTNODE_INPUT_CHARS)
    expectNamedError(() => parseBootnodes(many), 'InvalidMultiaddrError')
    // The same addresses under the limit are fine.
    const fewer = many.slice(0, many.lastIndexOf(' ', MAX_BOOTNODE_INPUT_CHARS))
    expect(parseBootnodes(fewer).length).toBeGreaterThan(1)
  })

  it('accepts one ws address with its peer ID, trimming whitespace', () => {
    const text = `/ip4/127.0.0.1/tcp/9090/ws/p2p/${relayId.toString()}`
    const parsed = parseBootnodes(`  ${text}\n`)
    expect(parsed.map(String)).toEqual([text])
  })

  it('accepts a public /dns4 wss address', () => {
    const text = `/dns4/relay.example.com/tcp/443/wss/p2p/${relayId.toString()}`
    expect(parseBootnodes(text).map(String)).toEqual([text])
  })

  it('accepts /tls/ws as secure WebSockets', () => {
    const text = `/dns4/relay.example.com/tcp/443/tls/ws/p2p/${relayId.toString()}`
    expect(parseBootnodes(text).map(String)).toEqual([text])
  })

  it('accepts several addresses separated by spaces, commas and new lines, in order', () => {
    const a = `/ip4/127.0.0.1/tcp/9090/ws/p2p/${relayId.toString()}`
    const b = `/dns4/relay.example.com/tcp/443/wss/p2p/${otherId.toString()}`
    const c = `/ip6/::1/tcp/9090/ws/p2p/${otherId.toString()}`
    const d = `/ip4/192.168.1.5/tcp/9090/ws/p2p/${relayId.toString()}`
    expect(parseBootnodes(`${a} ${b},${c}\n${d}`).map(String)).toEqual([a, b, c, d])
    expect(parseBootnodes(`${a},\n ${b} ,, ${c}\r\n`).map(String)).toEqual([a, b, c])
  })

  it('refuses the whole list when one address is bad', () => {
    const good = `/ip4/127.0.0.1/tcp/9090/ws/p2p/${relayId.toString()}`
    expectNamedError(() => parseBootnodes(`${good}, /ip4/127.0.0.1/tcp/9090/ws`), 'InvalidMultiaddrError')
  })
})

describe('parsePeerIdInput', () => {
  it.each([
    ['empty', ''],
    ['blank', '   \n'],
    ['garbage', 'not a peer id'],
    ['a truncated peer ID', '12D3KooW'],
    ['a CID', 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi'],
    ['a multiaddr', '/ip4/127.0.0.1/tcp/9090/ws']
  ])('refuses %s with InvalidPeerIdError', (_what, text) => {
    expectNamedError(() => parsePeerIdInput(text), 'InvalidPeerIdError')
  })

  it('refuses this node\'s own peer ID with SelfPeerError', () => {
    expectNamedError(() => parsePeerIdInput(relayId.toString(), relayId), 'SelfPeerError')
    expectNamedError(() => parsePeerIdInput(` ${relayId.toString()} `, relayId), 'SelfPeerError')
  })

  it('accepts an Ed25519 peer ID, trimmed', () => {
    const parsed = parsePeerIdInput(`  ${otherId.toString()}\n`, relayId)
    expect(parsed.equals(otherId)).toBe(true)
    expect(parsed.type).toBe('Ed25519')
  })

  it('accepts an RSA (Qm…) peer ID', () => {
    expect(rsaId.toString()).toMatch(/^Qm/)
    const parsed = parsePeerIdInput(rsaId.toString(), relayId)
    expect(parsed.equals(rsaId)).toBe(true)
    expect(parsed.type).toBe('RSA')
  })

  it('accepts any valid ID when there is no self to compare with', () => {
    expect(parsePeerIdInput(relayId.toString()).equals(relayId)).toBe(true)
  })
})

describe('isLocalAddress', () => {
  it.each([
    ['/ip4/127.0.0.1/tcp/9090/ws', true],
    ['/ip4/10.1.2.3/tcp/9090/ws', true],
    ['/ip4/192.168.1.5/tcp/9090/ws', true],
    ['/ip4/172.16.0.9/tcp/9090/ws', true],
    ['/ip6/::1/tcp/9090/ws', true],
    ['/dns4/localhost/tcp/9090/ws', true],
    ['/ip4/8.8.8.8/tcp/443/wss', false],
    ['/dns4/relay.example.com/tcp/443/wss', false]
  ])('%s → %s', (text, local) => {
    expect(isLocalAddress(multiaddr(text))).toBe(local)
  })
})

describe('parseBootnodes refuses a tab address', () => {
  it('rejects a relayed (p2p-circuit) address as a bootnode', () => {
    expect(() => parseBootnodes(`/ip4/127.0.0.1/tcp/9090/ws/p2p/${relayId.toString()}/p2p-circuit/webrtc/p2p/${otherId.toString()}`)).toThrow(expect.objectContaining({ name: 'InvalidMultiaddrError' }))
  })
})
