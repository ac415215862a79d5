import { sha256 } from '@noble/hashes/sha2.js'
import { concat, fromString } from 'uint8arrays'
import { commonPrefixLength } from '../dht/kad-math.ts'

/**
 * FIND_NODE keys that land in a chosen k-bucket of a remote peer (Nebula's method). kad-dht
 * hashes the raw key it is sent (kad-id = SHA-256 of the key), so a key whose hash shares exactly
 * `bucket` leading bits with the peer's kad-id makes the peer answer with the contents of that
 * bucket first. No preimage shortcut exists: random keys are hashed until one fits, which costs
 * about 2^(bucket+1) hashes; a crawl stops at the deepest non-empty bucket, a few bits past log2(N).
 */

// Keys start with '/crawl/', so they never parse as a multihash: kad-dht would then also answer
// with the peer whose ID the key happened to spell.
const KEY_PREFIX = fromString('/crawl/')
const RANDOM_BYTES = 16

/** The deepest bucket a key is searched for (beyond it the search costs too much for a tab). */
export const MAX_KEY_BUCKET = 20

export interface BucketKey {
  /** The bytes to send as the FIND_NODE key. */
  key: Uint8Array
  /** Its kad-id (SHA-256 of the key). */
  kadId: Uint8Array
}

/** A key whose kad-id shares exactly `bucket` leading bits with `peerKadId`. */
export function keyInBucket (peerKadId: Uint8Array, bucket: number, random: (bytes: Uint8Array) => void = fillRandom): BucketKey {
  if (!Number.isInteger(bucket) || bucket < 0 || bucket > MAX_KEY_BUCKET) throw new RangeError(`bucket must be 0-${MAX_KEY_BUCKET}`)
  const suffix = new Uint8Array(RANDOM_BYTES)
  for (;;) {
    random(suffix)
    const key = concat([KEY_PREFIX, suffix])
    const kadId = sha256(key)
    if (commonPrefixLength(kadId, peerKadId) === bucket) return { key, kadId }
  }
}

function fillRandom (bytes: Uint8Array): void {
  crypto.getRandomValues(bytes)
}
