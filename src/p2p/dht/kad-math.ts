import { sha256 } from '@noble/hashes/sha2.js'
import { toString } from 'uint8arrays'
import type { PeerId } from '@libp2p/interface'

/**
 * Kademlia arithmetic as kad-dht does it: every key and peer lives at the SHA-256 of its bytes
 * (a peer at the hash of its multihash), and distance is the XOR of two such IDs.
 */

export const KAD_ID_BITS = 256

export function kadIdOfKey (key: Uint8Array): Uint8Array {
  return sha256(key)
}

export function kadIdOfPeer (peerId: PeerId): Uint8Array {
  return sha256(peerId.toMultihash().bytes)
}

export function xorDistance (a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.byteLength !== b.byteLength) throw new RangeError('Kademlia IDs must have the same length')
  const out = new Uint8Array(a.byteLength)
  for (let index = 0; index < a.byteLength; index++) out[index] = (a[index] ?? 0) ^ (b[index] ?? 0)
  return out
}

/** Number of leading bits two IDs share (256 for equal IDs). */
export function commonPrefixLength (a: Uint8Array, b: Uint8Array): number {
  const distance = xorDistance(a, b)
  let bits = 0
  for (const byte of distance) {
    if (byte === 0) { bits += 8; continue }
    return bits + Math.clz32(byte) - 24
  }
  return bits
}

/** Orders distances: negative when `a` is closer than `b`. */
export function compareDistances (a: Uint8Array, b: Uint8Array): number {
  for (let index = 0; index < a.byteLength; index++) {
    const difference = (a[index] ?? 0) - (b[index] ?? 0)
    if (difference !== 0) return difference
  }
  return 0
}

/**
 * A distance a person can compare at a glance: the power of two it falls under (bits that
 * differ after the common prefix) and its first hex digits, e.g. `2^251 · 0f3a…`.
 */
export function compactDistance (distance: Uint8Array): string {
  const prefix = commonPrefixLength(distance, new Uint8Array(distance.byteLength))
  if (prefix === distance.byteLength * 8) return '0'
  return `2^${distance.byteLength * 8 - prefix} · ${toString(distance.subarray(0, 3), 'base16')}…`
}

/** log2 of the distance, fractional, for drawing (0 for identical IDs). */
export function distanceLog2 (distance: Uint8Array): number {
  const prefix = commonPrefixLength(distance, new Uint8Array(distance.byteLength))
  if (prefix === distance.byteLength * 8) return 0
  const byteIndex = Math.floor(prefix / 8)
  // Take up to 48 bits starting at the first set bit's byte for a smooth fractional part.
  let mantissa = 0
  for (let index = byteIndex; index < Math.min(byteIndex + 6, distance.byteLength); index++) mantissa = mantissa * 256 + (distance[index] ?? 0)
  const bitsTaken = (Math.min(byteIndex + 6, distance.byteLength) - byteIndex) * 8
  return Math.log2(mantissa) + (distance.byteLength * 8 - byteIndex * 8 - bitsTaken)
}

export function toHex (bytes: Uint8Array): string {
  return toString(bytes, 'base16')
}
