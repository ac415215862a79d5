import { multiaddr } from '@multiformats/multiaddr'
import { describe, expect, it } from 'vitest'
import { classifyTransport } from '../../../src/p2p/network/connections.ts'

const RELAY = '12D3KooWBVE9ojmwUbpziqVfRgQaZkaYYFEMfWZx6JPLUNDGqsrL'
const PEER = '12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf'

describe('classifyTransport', () => {
  it.each([
    ['ws', `/ip4/127.0.0.1/tcp/9090/ws/p2p/${RELAY}`, 'websocket'],
    ['ws without peer ID', '/ip4/127.0.0.1/tcp/9090/ws', 'websocket'],
    ['wss', `/dns4/relay.example.com/tcp/443/wss/p2p/${RELAY}`, 'websocket'],
    ['tls/ws', '/dns4/relay.example.com/tcp/443/tls/ws', 'websocket'],
    ['a relayed circuit', `/ip4/127.0.0.1/tcp/9090/ws/p2p/${RELAY}/p2p-circuit/p2p/${PEER}`, 'relayed'],
    ['a bare circuit', `/p2p/${RELAY}/p2p-circuit/p2p/${PEER}`, 'relayed'],
    ['WebRTC over a circuit', `/ip4/127.0.0.1/tcp/9090/ws/p2p/${RELAY}/p2p-circuit/webrtc/p2p/${PEER}`, 'webrtc'],
    ['a bare WebRTC address', `/webrtc/p2p/${PEER}`, 'webrtc'],
    ['plain TCP', `/ip4/127.0.0.1/tcp/4001/p2p/${PEER}`, 'other'],
    ['QUIC', '/ip4/1.2.3.4/udp/4001/quic-v1', 'other'],
    ['memory', '/memory/abc', 'other']
  ])('%s', (_what, address, transport) => {
    expect(classifyTransport(multiaddr(address))).toBe(transport)
  })
})
