import { sha256 } from '@noble/hashes/sha2.js'
import { concat, fromString } from 'uint8arrays'

/**
 * FIND_NODE keys whose kad-id starts with a chosen bit prefix: the crawler's probes into a remote
 * routing table. kad-dht hashes the raw key it is sent (kad-id = SHA-256 of the key) and answers
 * with the k peers it holds closest to that kad-id; in XOR distance every peer sharing the prefix
 * is closer than any peer that does not, so an answer that holds a peer outside the prefix has
 * listed every peer inside it. No preimage shortcut exists: random keys are hashed until one fits,
 * about 2^length hashes; a crawl rarely needs prefixes longer than log2(N / k) + 1.
 */

// Keys start with '/crawl/', so they never parse as a multihash: kad-dht would then also answer
// with the peer whose ID the key happened to spell.
const KEY_PREFIX = fromString('/crawl/')
const RANDOM_BYTES = 16

/** The longest prefix a key is searched for (beyond it the search costs too much for a tab). */
export const MAX_PREFIX_BITS = 20

export interface PrefixKey {
  /** The bytes to send as the FIND_NODE key. */
  key: Uint8Array
  /** Its kad-id (SHA-256 of the key). */
  kadId: Uint8Array
}

/** Whether `kadId` starts with `prefix` (a string of '0' and '1', most significant bit first). */
export function hasPrefix (kadId: Uint8Array, prefix: string): boolean {
  for (let bit = 0; bit < prefix.length; bit++) {
    const value = ((kadId[bit >> 3] ?? 0) >> (7 - (bit & 7))) & 1
    if (value !== (prefix.charCodeAt(bit) - 48)) return false
  }
  return true
}

/** A key whose kad-id starts with `prefix` ('0'/'1' string, at most MAX_PREFIX_BITS long). */
export function keyWithPrefix (prefix: string, random: (bytes: Uint8Array) => void = fillRandom): PrefixKey {
  if (prefix.length > MAX_PREFIX_BITS || !/^[01]*$/.test(prefix)) throw new RangeError(`prefix must be 0-${MAX_PREFIX_BITS} bits of 0 and 1`)
  const suffix = new Uint8Array(RANDOM_BYTES)
  for (;;) {
    random(suffix)
    const key = concat([KEY_PREFIX, suffix])
    const kadId = sha256(key)
    if (hasPrefix(kadId, prefix)) return { key, kadId }
  }
}

function fillRandom (bytes: Uint8Array): void {
  crypto.getRandomValues(bytes)
}
