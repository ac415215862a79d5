import { logger } from '@libp2p/logger'
import { WebRTC } from '@multiformats/multiaddr-matcher'
import { Backoff } from '../backoff.ts'
import { WEBRTC_DIAL_ATTEMPTS } from '../constants.ts'
import { DirectDialFailedError } from '../errors.ts'
import { delay } from '../operation.ts'
import { webrtcAddressFor } from './webrtc-address.ts'
import type { WebkadNode } from '../node.ts'
import type { PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

const log = logger('webkad:direct-dial')

export interface DirectDialResult {
  peerId: string
  remoteAddr: string
  durationMs: number
  attempts: number
  /** True when a WebRTC connection already existed and was reused. */
  reused: boolean
}

export interface DirectDialOptions {
  signal: AbortSignal
  /** Looks the peer's addresses up when the peer store has none (FindPeer through the DHT). */
  findAddresses(target: PeerId, signal: AbortSignal): Promise<Multiaddr[]>
}

/** Waits between WebRTC dial attempts: 200 ms, then 400 ms. */
const RETRY_INITIAL_MS = 200
const RETRY_MAX_MS = 2_000

/**
 * Opens a direct browser-to-browser WebRTC connection, signalled through the relay, or reuses
 * one. Retries a bounded number of times: WebRTC set-up can fail transiently.
 */
export async function dialDirect (node: WebkadNode, target: PeerId, options: DirectDialOptions): Promise<DirectDialResult> {
  const { signal } = options
  const startedAt = performance.now()
  const existing = node.getConnections(target).find(connection => WebRTC.matches(connection.remoteAddr) && connection.status === 'open')
  if (existing != null) {
    return { peerId: target.toString(), remoteAddr: existing.remoteAddr.toString(), durationMs: 0, attempts: 0, reused: true }
  }
  const address = await webrtcAddressOf(node, target, options)
  const backoff = new Backoff(RETRY_INITIAL_MS, RETRY_MAX_MS)
  let lastError: unknown
  for (let attempt = 1; attempt <= WEBRTC_DIAL_ATTEMPTS; attempt++) {
    try {
      const connection = await node.dial(address, { signal })
      // libp2p hands a dial that meets one already under way (e.g. kad-dht dialling the peer's
      // relayed address during the lookup above) that dial's connection: not a direct one.
      if (!WebRTC.matches(connection.remoteAddr)) throw new DirectDialFailedError(`the dial joined a ${connection.limits != null ? 'limited relayed' : 'non-WebRTC'} connection`)
      return { peerId: target.toString(), remoteAddr: connection.remoteAddr.toString(), durationMs: performance.now() - startedAt, attempts: attempt, reused: false }
    } catch (err) {
      if (signal.aborted) throw err
      lastError = err
      log('WebRTC dial attempt %d to %p failed - %e', attempt, target, err)
      const wait = backoff.fail()
      if (attempt < WEBRTC_DIAL_ATTEMPTS) await delay(wait, signal)
    }
  }
  throw new DirectDialFailedError(`No direct connection to ${target.toString()} after ${WEBRTC_DIAL_ATTEMPTS} attempts: ${(lastError as Error)?.message ?? 'unknown error'}`)
}

/** A WebRTC address for the peer from the peer store, or from a lookup when it knows none. */
async function webrtcAddressOf (node: WebkadNode, target: PeerId, options: DirectDialOptions): Promise<Multiaddr> {
  let known = await node.peerStore.get(target, { signal: options.signal }).then(peer => peer.addresses.map(address => address.multiaddr), () => [])
  if (known.length === 0) known = await options.findAddresses(target, options.signal)
  const address = webrtcAddressFor(target, known)
  if (address == null) throw new DirectDialFailedError(`Peer ${target.toString()} has no relayed address to signal WebRTC through.`)
  return address
}
