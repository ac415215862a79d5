import { peerIdFromMultihash, peerIdFromPublicKey, peerIdFromString } from '@libp2p/peer-id'
import * as Digest from 'multiformats/hashes/digest'
import { concat, equals, compare, fromString, toString } from 'uint8arrays'
import { InvalidRecordError, InvalidRecordKeyError } from '../errors.ts'
import { SignedRecord } from './pb/record.ts'
import type { PeerId, PrivateKey } from '@libp2p/interface'

/**
 * webkad's DHT records: keys `/webkad/<name>` or `/webkad/<peerId>/<name>` (writable only by that
 * peer), values are SignedRecord envelopes. This module is the single place that decides what
 * a valid record is and which of several records wins.
 */

export const RECORD_KEY_PREFIX = '/webkad/'
export const MAX_NAME_BYTES = 200
export const MAX_PAYLOAD_BYTES = 10 * 1024
/** Upper bound of an encoded record: payload + key + author + signature + framing. */
export const MAX_ENCODED_RECORD_BYTES = MAX_PAYLOAD_BYTES + 1024
/** Clocks disagree; a record claiming to be from further in the future than this is refused. */
export const MAX_CLOCK_SKEW_MS = 10 * 60 * 1000
/** Default record lifetime: 24 h, as in the Kademlia paper (the author republishes before it ends). */
export const DEFAULT_RECORD_LIFETIME_MS = 24 * 60 * 60 * 1000
/** Longest lifetime a record may claim, so a record cannot pin a key forever. */
export const MAX_RECORD_LIFETIME_MS = 7 * 24 * 60 * 60 * 1000

const SIGNING_DOMAIN = fromString('webkad-record-v1\n')
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/

export type RecordPayload =
  | { type: 'text', text: string }
  | { type: 'bytes', bytes: Uint8Array }

/** A decoded, validated record. */
export interface WebkadRecord {
  key: string
  payload: RecordPayload
  author: string
  sequence: bigint
  createdAt: number
  expiresAt: number
  signature: Uint8Array
}

export interface ParsedRecordKey {
  key: string
  name: string
  /** Set for `/webkad/<peerId>/<name>`: only this peer may write the key. */
  owner?: PeerId
}

/** Parses and checks a record key (or a bare name, which gets the `/webkad/` prefix). */
export function parseRecordKey (input: string): ParsedRecordKey {
  const key = input.startsWith(RECORD_KEY_PREFIX) ? input : `${RECORD_KEY_PREFIX}${input}`
  const name = key.slice(RECORD_KEY_PREFIX.length)
  const nameBytes = fromString(name).byteLength
  if (nameBytes === 0) throw new InvalidRecordKeyError('The key is empty: give the record a name.')
  if (nameBytes > MAX_NAME_BYTES) throw new InvalidRecordKeyError(`The key is ${nameBytes} bytes long; the limit is ${MAX_NAME_BYTES} bytes.`)
  if (CONTROL_CHARACTERS.test(name)) throw new InvalidRecordKeyError('The key contains control characters (new lines, tabs, …).')
  if (name.includes('\uFFFD') || !isWellFormed(name)) throw new InvalidRecordKeyError('The key is not valid UTF-8 text.')
  const slash = name.indexOf('/')
  if (slash > 0) {
    const owner = tryPeerId(name.slice(0, slash))
    if (owner != null) {
      if (name.slice(slash + 1) === '') throw new InvalidRecordKeyError('An owned key needs a name after the peer ID: /webkad/<peerId>/<name>.')
      return { key, name, owner }
    }
  }
  return { key, name }
}

/** Bytes a record's signature covers: domain, key, payload type and payload, sequence, times. */
export function recordSigningBytes (record: Omit<SignedRecord, 'signature' | 'author'>): Uint8Array {
  const numbers = new DataView(new ArrayBuffer(24))
  numbers.setBigUint64(0, record.sequence)
  numbers.setBigUint64(8, record.createdAt)
  numbers.setBigUint64(16, record.expiresAt)
  return concat([
    SIGNING_DOMAIN,
    lengthPrefixed(record.key),
    Uint8Array.of(record.payloadType === SignedRecord.PayloadType.BYTES ? 1 : 0),
    lengthPrefixed(record.payload),
    new Uint8Array(numbers.buffer)
  ])
}

export interface CreateRecordInit {
  key: string
  payload: RecordPayload
  sequence: bigint
  createdAt?: number
  /** How long the record lives. @default DEFAULT_RECORD_LIFETIME_MS */
  lifetimeMs?: number
}

/** Signs a record with the author's key and encodes it for the DHT. */
export async function createSignedRecord (author: PrivateKey, authorId: PeerId, init: CreateRecordInit): Promise<Uint8Array> {
  const { key, owner } = parseRecordKey(init.key)
  if (owner != null && !owner.equals(authorId)) {
    throw new InvalidRecordKeyError(`Only ${owner.toString()} can write ${key}.`)
  }
  const payload = init.payload.type === 'text' ? fromString(init.payload.text) : init.payload.bytes
  if (payload.byteLength > MAX_PAYLOAD_BYTES) {
    throw new InvalidRecordError(`The value is ${payload.byteLength} bytes; the limit is ${MAX_PAYLOAD_BYTES} bytes (10 KiB).`, 'oversized')
  }
  if (init.sequence < 0n) throw new InvalidRecordError('The sequence number must not be negative.', 'malformed')
  const lifetimeMs = init.lifetimeMs ?? DEFAULT_RECORD_LIFETIME_MS
  if (!Number.isFinite(lifetimeMs) || lifetimeMs < 1000 || lifetimeMs > MAX_RECORD_LIFETIME_MS) {
    throw new InvalidRecordError(`A record lives between 1 second and ${MAX_RECORD_LIFETIME_MS / 86_400_000} days.`, 'malformed')
  }
  const createdAt = Math.floor(init.createdAt ?? Date.now())
  const unsigned = {
    key: fromString(key) as Uint8Array<ArrayBuffer>,
    payload: payload as Uint8Array<ArrayBuffer>,
    payloadType: init.payload.type === 'text' ? SignedRecord.PayloadType.TEXT : SignedRecord.PayloadType.BYTES,
    sequence: init.sequence,
    createdAt: BigInt(createdAt),
    expiresAt: BigInt(createdAt + Math.floor(lifetimeMs))
  }
  const signature = await author.sign(recordSigningBytes(unsigned))
  return SignedRecord.encode({ ...unsigned, author: authorId.toMultihash().bytes as Uint8Array<ArrayBuffer>, signature: signature as Uint8Array<ArrayBuffer> })
}

/** Decodes a record's bytes without checking its signature; InvalidRecordError if malformed. */
export function decodeRecordEnvelope (value: Uint8Array): SignedRecord {
  if (value.byteLength > MAX_ENCODED_RECORD_BYTES) {
    throw new InvalidRecordError(`The record is ${value.byteLength} bytes; the limit is ${MAX_ENCODED_RECORD_BYTES}.`, 'oversized')
  }
  try {
    return SignedRecord.decode(value)
  } catch {
    throw new InvalidRecordError('The record is not a webkad record envelope.', 'malformed')
  }
}

/**
 * Checks everything about a record: shape, sizes, that it was written for `key`, that its author
 * may write the key, and the author's signature. Returns the decoded record.
 */
export async function validateRecord (key: Uint8Array, value: Uint8Array, now = Date.now()): Promise<WebkadRecord> {
  const envelope = decodeRecordEnvelope(value)
  let parsedKey: ParsedRecordKey
  try {
    const keyText = toString(key)
    // parseRecordKey adds the prefix to bare names; a DHT key must already carry it.
    if (!keyText.startsWith(RECORD_KEY_PREFIX)) throw new InvalidRecordKeyError(`${keyText.slice(0, 40)} is outside ${RECORD_KEY_PREFIX}`)
    parsedKey = parseRecordKey(keyText)
  } catch (err) {
    throw new InvalidRecordError(`The DHT key is not a webkad key: ${(err as Error).message}`, 'bad-key')
  }
  if (!equals(envelope.key, key)) throw new InvalidRecordError('The record was written for a different key.', 'key-mismatch')
  if (envelope.payload.byteLength > MAX_PAYLOAD_BYTES) {
    throw new InvalidRecordError(`The value is ${envelope.payload.byteLength} bytes; the limit is ${MAX_PAYLOAD_BYTES}.`, 'oversized')
  }
  if (envelope.signature.byteLength === 0) throw new InvalidRecordError('The record is not signed.', 'unsigned')
  if (envelope.author.byteLength === 0) throw new InvalidRecordError('The record names no author.', 'unsigned')
  let author: PeerId
  try {
    author = peerIdFromMultihash(Digest.decode(envelope.author))
  } catch {
    throw new InvalidRecordError('The record\'s author is not a peer ID.', 'malformed')
  }
  if (author.publicKey == null) throw new InvalidRecordError('The author\'s peer ID does not embed a public key (use Ed25519).', 'unsigned')
  // The signature does not cover the author bytes: only the canonical encoding of the signing key
  // may name the author, or anyone could re-publish a record under an alias peer ID of its author.
  if (!peerIdFromPublicKey(author.publicKey).equals(author)) throw new InvalidRecordError('The record\'s author is not written as its key\'s peer ID.', 'malformed')
  if (parsedKey.owner != null && !parsedKey.owner.equals(author)) {
    throw new InvalidRecordError(`Only ${parsedKey.owner.toString()} may write this key.`, 'wrong-owner')
  }
  if (Number(envelope.createdAt) > now + MAX_CLOCK_SKEW_MS) throw new InvalidRecordError('The record claims to be from the future.', 'malformed')
  if (envelope.expiresAt <= envelope.createdAt || envelope.expiresAt - envelope.createdAt > BigInt(MAX_RECORD_LIFETIME_MS)) {
    throw new InvalidRecordError('The record\'s lifetime is out of range.', 'malformed')
  }
  if (Number(envelope.expiresAt) <= now) throw new InvalidRecordError('The record has expired.', 'expired')
  let payload: RecordPayload
  if (envelope.payloadType === SignedRecord.PayloadType.TEXT) {
    try {
      payload = { type: 'text', text: new TextDecoder('utf-8', { fatal: true }).decode(envelope.payload) }
    } catch {
      throw new InvalidRecordError('The text value is not valid UTF-8.', 'malformed')
    }
  } else {
    payload = { type: 'bytes', bytes: envelope.payload }
  }
  let valid = false
  try {
    valid = await author.publicKey.verify(recordSigningBytes(envelope), envelope.signature)
  } catch {
    // Ed25519 verify throws a TypeError for a signature that is not 64 bytes: a bad signature too.
  }
  if (!valid) throw new InvalidRecordError('The signature does not match the record and its author.', 'bad-signature')
  return {
    key: parsedKey.key,
    payload,
    author: author.toString(),
    sequence: envelope.sequence,
    createdAt: Number(envelope.createdAt),
    expiresAt: Number(envelope.expiresAt),
    signature: envelope.signature
  }
}

/**
 * Picks the best record: highest sequence, then newest creation time, then the larger
 * signature bytes so every node picks the same one. Undecodable or expired records never win.
 */
export function selectRecord (_key: Uint8Array, records: Uint8Array[], now = Date.now()): number {
  let best = -1
  let bestRecord: SignedRecord | undefined
  records.forEach((value, index) => {
    let candidate: SignedRecord
    try {
      candidate = decodeRecordEnvelope(value)
    } catch {
      return
    }
    if (Number(candidate.expiresAt) <= now) return
    if (bestRecord == null || compareRecords(candidate, bestRecord) > 0) {
      best = index
      bestRecord = candidate
    }
  })
  return Math.max(best, 0)
}

/** True when the encoded record's lifetime has passed (undecodable records count as expired). */
export function isRecordExpired (value: Uint8Array, now = Date.now()): boolean {
  try {
    return Number(decodeRecordEnvelope(value).expiresAt) <= now
  } catch {
    return true
  }
}

/** Positive when `a` should win over `b`. */
export function compareRecords (a: Pick<SignedRecord, 'sequence' | 'createdAt' | 'signature'>, b: Pick<SignedRecord, 'sequence' | 'createdAt' | 'signature'>): number {
  if (a.sequence !== b.sequence) return a.sequence > b.sequence ? 1 : -1
  if (a.createdAt !== b.createdAt) return a.createdAt > b.createdAt ? 1 : -1
  return compare(a.signature, b.signature)
}

function lengthPrefixed (bytes: Uint8Array): Uint8Array {
  const length = new DataView(new ArrayBuffer(4))
  length.setUint32(0, bytes.byteLength)
  return concat([new Uint8Array(length.buffer), bytes])
}

function tryPeerId (text: string): PeerId | undefined {
  try {
    return peerIdFromString(text)
  } catch {
    return undefined
  }
}

function isWellFormed (text: string): boolean {
  // Lone surrogates cannot be encoded as UTF-8.
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text)
}
