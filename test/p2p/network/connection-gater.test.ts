import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { beforeAll, describe, expect, it } from 'vitest'
import { webkadConnectionGater } from '../../../src/p2p/network/connection-gater.ts'
import type { ConnectionGater } from '@libp2p/interface'

let relay = ''
let peer = ''

beforeAll(async () => {
  relay = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
})

async function denies (gater: ConnectionGater, address: string): Promise<boolean> {
  const deny = gater.denyDialMultiaddr
  if (deny == null) throw new Error('the gater has no denyDialMultiaddr')
  return await deny(multiaddr(address))
}

describe('webkadConnectionGater with a loopback bootnode', () => {
  const gater = (): ConnectionGater => webkadConnectionGater([multiaddr(`/ip4/127.0.0.1/tcp/9090/ws/p2p/${relay}`)])

  it('allows the loopback relay over ws://', async () => {
    expect(await denies(gater(), `/ip4/127.0.0.1/tcp/9090/ws/p2p/${relay}`)).toBe(false)
  })

  it('allows circuit and WebRTC addresses through the loopback relay', async () => {
    expect(await denies(gater(), `/ip4/127.0.0.1/tcp/9090/ws/p2p/${relay}/p2p-circuit/p2p/${peer}`)).toBe(false)
    expect(await denies(gater(), `/ip4/127.0.0.1/tcp/9090/ws/p2p/${relay}/p2p-circuit/webrtc/p2p/${peer}`)).toBe(false)
  })

  it('allows LAN addresses', async () => {
    expect(await denies(gater(), `/ip4/192.168.1.7/tcp/9090/ws/p2p/${relay}`)).toBe(false)
  })
})

describe('webkadConnectionGater with a LAN bootnode', () => {
  it('treats a private-network relay as a local network too', async () => {
    const gater = webkadConnectionGater([multiaddr(`/ip4/192.168.1.7/tcp/9090/ws/p2p/${relay}`)])
    expect(await denies(gater, `/ip4/192.168.1.7/tcp/9090/ws/p2p/${relay}/p2p-circuit/webrtc/p2p/${peer}`)).toBe(false)
  })
})

describe('webkadConnectionGater with a public wss bootnode', () => {
  const gater = (): ConnectionGater => webkadConnectionGater([multiaddr(`/dns4/relay.example.com/tcp/443/wss/p2p/${relay}`)])

  it('allows the public relay and WebRTC signalled through it', async () => {
    expect(await denies(gater(), `/dns4/relay.example.com/tcp/443/wss/p2p/${relay}`)).toBe(false)
    expect(await denies(gater(), `/ip4/8.8.8.8/tcp/443/wss/p2p/${relay}`)).toBe(false)
    expect(await denies(gater(), `/dns4/relay.example.com/tcp/443/wss/p2p/${relay}/p2p-circuit/webrtc/p2p/${peer}`)).toBe(false)
  })

  it('denies loopback and private addresses', async () => {
    expect(await denies(gater(), `/ip4/127.0.0.1/tcp/443/wss/p2p/${relay}`)).toBe(true)
    expect(await denies(gater(), `/ip4/192.168.1.7/tcp/443/wss/p2p/${relay}`)).toBe(true)
    expect(await denies(gater(), `/ip4/10.0.0.1/tcp/9090/ws/p2p/${relay}/p2p-circuit/webrtc/p2p/${peer}`)).toBe(true)
    expect(await denies(gater(), `/ip6/::1/tcp/443/wss/p2p/${relay}`)).toBe(true)
  })

  it('denies insecure ws:// even on a public host', async () => {
    expect(await denies(gater(), `/dns4/other.example.com/tcp/80/ws/p2p/${relay}`)).toBe(true)
    expect(await denies(gater(), `/ip4/8.8.8.8/tcp/80/ws/p2p/${relay}`)).toBe(true)
  })
})

describe('webkadConnectionGater with mixed bootnodes', () => {
  it('opens local addresses when any bootnode is local', async () => {
    const gater = webkadConnectionGater([
      multiaddr(`/dns4/relay.example.com/tcp/443/wss/p2p/${relay}`),
      multiaddr(`/ip4/127.0.0.1/tcp/9090/ws/p2p/${relay}`)
    ])
    expect(await denies(gater, `/ip4/127.0.0.1/tcp/9090/ws/p2p/${relay}`)).toBe(false)
  })
})
