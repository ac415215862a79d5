import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { sha256 } from '@noble/hashes/sha2.js'
import * as Digest from 'multiformats/hashes/digest'
import { compare, equals, fromString } from 'uint8arrays'
import { beforeAll, describe, expect, it } from 'vitest'
import { SignedRecord } from '../../../src/p2p/dht/pb/record.ts'
import {
  DEFAULT_RECORD_LIFETIME_MS,
  MAX_CLOCK_SKEW_MS,
  MAX_ENCODED_RECORD_BYTES,
  MAX_NAME_BYTES,
  MAX_PAYLOAD_BYTES,
  MAX_RECORD_LIFETIME_MS,
  RECORD_KEY_PREFIX,
  compareRecords,
  createSignedRecord,
  decodeRecordEnvelope,
  isRecordExpired,
  parseRecordKey,
  recordSigningBytes,
  selectRecord,
  validateRecord
} from '../../../src/p2p/dht/records.ts'
import type { CreateRecordInit, ParsedRecordKey, RecordPayload } from '../../../src/p2p/dht/records.ts'
import type { InvalidRecordReason } from '../../../src/p2p/errors.ts'
import type { PeerId, PrivateKey } from '@libp2p/interface'

/** A fixed "now" so every time-dependent rule is checked against a known clock. */
const NOW = 1_750_000_000_000
const DAY = 24 * 60 * 60 * 1000

let alice: PrivateKey
let aliceId: PeerId
let bob: PrivateKey
let bobId: PeerId

beforeAll(async () => {
  alice = await generateKeyPair('Ed25519')
  aliceId = peerIdFromPrivateKey(alice)
  bob = await generateKeyPair('Ed25519')
  bobId = peerIdFromPrivateKey(bob)
})

// ---------------------------------------------------------------------------------------------
// helpers

function keyError (input: string): Error {
  try {
    parseRecordKey(input)
  } catch (err) {
    return err as Error
  }
  throw new Error(`expected parseRecordKey(${JSON.stringify(input)}) to throw`)
}

function expectKeyRejected (input: string): void {
  expect(keyError(input).name).toBe('InvalidRecordKeyError')
}

async function rejection (promise: Promise<unknown>): Promise<Error & { reason?: string }> {
  try {
    await promise
  } catch (err) {
    return err as Error & { reason?: string }
  }
  throw new Error('expected the promise to reject')
}

async function expectInvalid (promise: Promise<unknown>, reason: InvalidRecordReason): Promise<void> {
  const err = await rejection(promise)
  expect(err.name).toBe('InvalidRecordError')
  expect(err.reason).toBe(reason)
}

async function make (init: Partial<CreateRecordInit> & { key?: string } = {}, signer: PrivateKey = alice, signerId: PeerId = aliceId): Promise<Uint8Array> {
  return await createSignedRecord(signer, signerId, {
    key: '/webkad/records-test',
    payload: { type: 'text', text: 'hello' },
    sequence: 1n,
    createdAt: NOW,
    ...init
  })
}

type EnvelopeFields = Omit<SignedRecord, 'signature' | 'author'>

/**
 * Builds and signs an envelope by hand (bypassing createSignedRecord's checks), so the validator
 * can be fed records that are correctly signed yet break one rule.
 */
async function forge (fields: Partial<EnvelopeFields>, options: { signer?: PrivateKey, author?: Uint8Array, signature?: Uint8Array } = {}): Promise<Uint8Array> {
  const signer = options.signer ?? alice
  const envelope: EnvelopeFields = {
    key: fromString('/webkad/records-test'),
    payload: fromString('hello'),
    payloadType: SignedRecord.PayloadType.TEXT,
    sequence: 1n,
    createdAt: BigInt(NOW),
    expiresAt: BigInt(NOW + DAY),
    ...fields
  }
  const signature = options.signature ?? await signer.sign(recordSigningBytes(envelope))
  const author = options.author ?? peerIdFromPrivateKey(signer).toMultihash().bytes
  return SignedRecord.encode({ ...envelope, author: author as Uint8Array<ArrayBuffer>, signature: signature as Uint8Array<ArrayBuffer> })
}

/** Decodes, changes one field and re-encodes with the protons codec, without re-signing. */
function tamper (value: Uint8Array, change: (record: SignedRecord) => void): Uint8Array {
  const record = SignedRecord.decode(value)
  change(record)
  return SignedRecord.encode(record)
}

function flipByte (bytes: Uint8Array, index = 0, mask = 0x01): Uint8Array<ArrayBuffer> {
  const copy = new Uint8Array(bytes)
  copy[index] = (copy[index] ?? 0) ^ mask
  return copy
}

const keyBytes = (key: string): Uint8Array => fromString(key)

/** A small deterministic PRNG (mulberry32) so "random" inputs are reproducible. */
function prng (seed: number): () => number {
  let state = seed
  return () => {
    state = (state + 0x6D2B79F5) | 0
    let t = Math.imul(state ^ (state >>> 15), 1 | state)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function permutations<T> (items: T[]): T[][] {
  if (items.length <= 1) return [items]
  return items.flatMap((item, index) => permutations([...items.slice(0, index), ...items.slice(index + 1)]).map(rest => [item, ...rest]))
}

// ---------------------------------------------------------------------------------------------

describe('parseRecordKey', () => {
  it('gives a bare name the /webkad/ prefix', () => {
    expect(parseRecordKey('greeting')).toEqual({ key: '/webkad/greeting', name: 'greeting' })
  })

  it('keeps an already prefixed key as it is', () => {
    const parsed = parseRecordKey('/webkad/greeting')
    expect(parsed).toEqual({ key: '/webkad/greeting', name: 'greeting' })
    expect(parsed.owner).toBeUndefined()
  })

  it('treats a name that merely contains "webkad" as a bare name', () => {
    expect(parseRecordKey('webkad/x').key).toBe('/webkad/webkad/x')
    expect(parseRecordKey('/webkadx').key).toBe('/webkad//webkadx')
  })

  it('refuses an empty name, bare or prefixed', () => {
    expectKeyRejected('')
    expectKeyRejected(RECORD_KEY_PREFIX)
  })

  it('accepts a name of exactly 200 UTF-8 bytes and refuses 201 (ASCII)', () => {
    expect(MAX_NAME_BYTES).toBe(200)
    expect(parseRecordKey('a'.repeat(200)).name).toHaveLength(200)
    expectKeyRejected('a'.repeat(201))
    expectKeyRejected(`/webkad/${'a'.repeat(201)}`)
  })

  it('counts UTF-8 bytes, not characters, for multi-byte names', () => {
    // é: 2 bytes, €: 3 bytes, 😀: 4 bytes (a surrogate pair in JS).
    expect(parseRecordKey('é'.repeat(100)).name).toBe('é'.repeat(100))
    expectKeyRejected(`${'é'.repeat(100)}a`)
    expect(parseRecordKey(`${'€'.repeat(66)}ab`).name).toBe(`${'€'.repeat(66)}ab`)
    expectKeyRejected(`${'€'.repeat(67)}`)
    expect(parseRecordKey('😀'.repeat(50)).name).toBe('😀'.repeat(50))
    expectKeyRejected(`${'😀'.repeat(50)}a`)
    // 101 characters but 201 bytes: a character count would let it through.
    expectKeyRejected(`${'é'.repeat(100)}x`)
  })

  it.each([
    ['new line', 'a\nb'],
    ['tab', 'a\tb'],
    ['NUL', 'a\u0000b'],
    ['DEL', 'a\u007fb'],
    ['NEL (C1 control)', 'a\u0085b'],
    ['carriage return', 'a\rb'],
    ['escape', 'a\u001bb'],
    ['last C1 control', 'a\u009fb']
  ])('refuses a name with a control character (%s)', (_label, name) => {
    expectKeyRejected(name)
    expectKeyRejected(`/webkad/${name}`)
  })

  it('accepts the characters right next to the control ranges', () => {
    expect(parseRecordKey('a b').name).toBe('a b')
    expect(parseRecordKey('a~b').name).toBe('a~b')
    expect(parseRecordKey('a\u00a0b').name).toBe('a\u00a0b')
  })

  it.each([
    ['lone high surrogate', 'a\uD800b'],
    ['lone low surrogate', 'a\uDC00b'],
    ['high surrogate at the end', 'abc\uD83D'],
    ['low surrogate at the start', '\uDE00abc'],
    ['reversed pair', '\uDE00\uD83D'],
    ['replacement character (text that was already broken)', 'a\uFFFDb']
  ])('refuses text that is not valid UTF-8 (%s)', (_label, name) => {
    expectKeyRejected(name)
  })

  it('sets the owner for /webkad/<peerId>/<name>', () => {
    const parsed: ParsedRecordKey = parseRecordKey(`/webkad/${aliceId.toString()}/profile`)
    expect(parsed.key).toBe(`/webkad/${aliceId.toString()}/profile`)
    expect(parsed.name).toBe(`${aliceId.toString()}/profile`)
    expect(parsed.owner?.equals(aliceId)).toBe(true)
    expect(parsed.owner?.equals(bobId)).toBe(false)
  })

  it('sets the owner for a bare <peerId>/<name> too, and allows deeper names', () => {
    const parsed = parseRecordKey(`${bobId.toString()}/a/b`)
    expect(parsed.key).toBe(`/webkad/${bobId.toString()}/a/b`)
    expect(parsed.owner?.equals(bobId)).toBe(true)
  })

  it('refuses an owned key without a name after the peer ID', () => {
    expectKeyRejected(`/webkad/${aliceId.toString()}/`)
    expectKeyRejected(`${aliceId.toString()}/`)
  })

  it('treats a peer ID without a following slash as a plain name', () => {
    const parsed = parseRecordKey(`/webkad/${aliceId.toString()}`)
    expect(parsed.owner).toBeUndefined()
    expect(parsed.name).toBe(aliceId.toString())
  })

  it('treats a first segment that is not a peer ID as part of the name', () => {
    for (const name of ['alice/notes', '12D3KooWnotapeer/x', 'Qm/x', 'a/']) {
      const parsed = parseRecordKey(name)
      expect(parsed.owner).toBeUndefined()
      expect(parsed.name).toBe(name)
    }
    // A leading slash in the name is not a peer-ID segment either.
    expect(parseRecordKey(`/webkad//${aliceId.toString()}/x`).owner).toBeUndefined()
  })

  it('applies the 200-byte limit to owned keys, peer ID included', () => {
    const prefix = `${aliceId.toString()}/`
    const room = MAX_NAME_BYTES - prefix.length
    expect(parseRecordKey(`${prefix}${'n'.repeat(room)}`).owner?.equals(aliceId)).toBe(true)
    expectKeyRejected(`${prefix}${'n'.repeat(room + 1)}`)
  })
})

describe('createSignedRecord', () => {
  it('encodes a record whose fields are what was asked for', async () => {
    const value = await make({ key: 'created', payload: { type: 'text', text: 'hi' }, sequence: 42n, lifetimeMs: 60_000 })
    const envelope = decodeRecordEnvelope(value)
    expect(new TextDecoder().decode(envelope.key)).toBe('/webkad/created')
    expect(new TextDecoder().decode(envelope.payload)).toBe('hi')
    expect(envelope.payloadType).toBe(SignedRecord.PayloadType.TEXT)
    expect(envelope.sequence).toBe(42n)
    expect(envelope.createdAt).toBe(BigInt(NOW))
    expect(envelope.expiresAt).toBe(BigInt(NOW + 60_000))
    expect(equals(envelope.author, aliceId.toMultihash().bytes)).toBe(true)
    expect(await alice.publicKey.verify(recordSigningBytes(envelope), envelope.signature)).toBe(true)
  })

  it('defaults to a 24 h lifetime and the current time', async () => {
    const before = Date.now()
    const envelope = decodeRecordEnvelope(await createSignedRecord(alice, aliceId, { key: 'defaults', payload: { type: 'text', text: 'x' }, sequence: 0n }))
    const after = Date.now()
    expect(DEFAULT_RECORD_LIFETIME_MS).toBe(DAY)
    expect(Number(envelope.createdAt)).toBeGreaterThanOrEqual(before)
    expect(Number(envelope.createdAt)).toBeLessThanOrEqual(after)
    expect(envelope.expiresAt - envelope.createdAt).toBe(BigInt(DAY))
  })

  it('floors fractional times so the signed integers match the encoded ones', async () => {
    const value = await make({ createdAt: NOW + 0.9, lifetimeMs: 1000.7 })
    const envelope = decodeRecordEnvelope(value)
    expect(envelope.createdAt).toBe(BigInt(NOW))
    expect(envelope.expiresAt).toBe(BigInt(NOW + 1000))
    await expect(validateRecord(keyBytes('/webkad/records-test'), value, NOW)).resolves.toMatchObject({ createdAt: NOW, expiresAt: NOW + 1000 })
  })

  it('lets the owner write an owned key and refuses anyone else', async () => {
    const key = `/webkad/${aliceId.toString()}/profile`
    const value = await make({ key })
    await expect(validateRecord(keyBytes(key), value, NOW)).resolves.toMatchObject({ key, author: aliceId.toString() })
    const err = await rejection(make({ key }, bob, bobId))
    expect(err.name).toBe('InvalidRecordKeyError')
  })

  it('refuses a key that parseRecordKey refuses', async () => {
    expect((await rejection(make({ key: '' }))).name).toBe('InvalidRecordKeyError')
    expect((await rejection(make({ key: 'a\nb' }))).name).toBe('InvalidRecordKeyError')
    expect((await rejection(make({ key: 'x'.repeat(201) }))).name).toBe('InvalidRecordKeyError')
  })

  it('accepts a 10 KiB payload and refuses one byte more (text and bytes)', async () => {
    expect(MAX_PAYLOAD_BYTES).toBe(10 * 1024)
    const text = await make({ payload: { type: 'text', text: 'x'.repeat(MAX_PAYLOAD_BYTES) } })
    expect(decodeRecordEnvelope(text).payload.byteLength).toBe(MAX_PAYLOAD_BYTES)
    await expect(validateRecord(keyBytes('/webkad/records-test'), text, NOW)).resolves.toBeDefined()
    await expectInvalid(make({ payload: { type: 'text', text: 'x'.repeat(MAX_PAYLOAD_BYTES + 1) } }), 'oversized')

    const bytes = await make({ payload: { type: 'bytes', bytes: new Uint8Array(MAX_PAYLOAD_BYTES).fill(7) } })
    expect(decodeRecordEnvelope(bytes).payload.byteLength).toBe(MAX_PAYLOAD_BYTES)
    await expectInvalid(make({ payload: { type: 'bytes', bytes: new Uint8Array(MAX_PAYLOAD_BYTES + 1) } }), 'oversized')
  })

  it('measures a text payload in UTF-8 bytes', async () => {
    // 5120 × "é" is 10 KiB exactly; one more ASCII byte is over.
    await expect(make({ payload: { type: 'text', text: 'é'.repeat(MAX_PAYLOAD_BYTES / 2) } })).resolves.toBeInstanceOf(Uint8Array)
    await expectInvalid(make({ payload: { type: 'text', text: `${'é'.repeat(MAX_PAYLOAD_BYTES / 2)}a` } }), 'oversized')
  })

  it('refuses a negative sequence number and accepts zero', async () => {
    await expectInvalid(make({ sequence: -1n }), 'malformed')
    await expect(make({ sequence: 0n })).resolves.toBeInstanceOf(Uint8Array)
  })

  it('accepts lifetimes from 1 second to 7 days inclusive', async () => {
    expect(MAX_RECORD_LIFETIME_MS).toBe(7 * DAY)
    for (const lifetimeMs of [1000, 60_000, MAX_RECORD_LIFETIME_MS]) {
      const value = await make({ lifetimeMs })
      expect(decodeRecordEnvelope(value).expiresAt).toBe(BigInt(NOW + lifetimeMs))
      await expect(validateRecord(keyBytes('/webkad/records-test'), value, NOW)).resolves.toMatchObject({ expiresAt: NOW + lifetimeMs })
    }
  })

  it.each([
    ['just under 1 s', 999],
    ['zero', 0],
    ['negative', -1000],
    ['one ms over 7 days', 7 * DAY + 1],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY]
  ])('refuses a lifetime out of range (%s)', async (_label, lifetimeMs) => {
    await expectInvalid(make({ lifetimeMs }), 'malformed')
  })
})

describe('validateRecord', () => {
  const KEY = '/webkad/records-test'

  describe('accepts', () => {
    it('a text record and returns its decoded fields', async () => {
      const value = await make({ payload: { type: 'text', text: 'héllo wörld 😀' }, sequence: 9n, lifetimeMs: 3_600_000 })
      const record = await validateRecord(keyBytes(KEY), value, NOW)
      expect(record.key).toBe(KEY)
      expect(record.payload).toEqual({ type: 'text', text: 'héllo wörld 😀' })
      expect(record.author).toBe(aliceId.toString())
      expect(record.sequence).toBe(9n)
      expect(record.createdAt).toBe(NOW)
      expect(record.expiresAt).toBe(NOW + 3_600_000)
      expect(equals(record.signature, decodeRecordEnvelope(value).signature)).toBe(true)
    })

    it('a bytes record, including bytes that are not UTF-8', async () => {
      const bytes = Uint8Array.of(0, 0xff, 0xfe, 0x80, 0xc0, 1)
      const record = await validateRecord(keyBytes(KEY), await make({ payload: { type: 'bytes', bytes } }), NOW)
      expect(record.payload.type).toBe('bytes')
      expect(record.payload.type === 'bytes' && equals(record.payload.bytes, bytes)).toBe(true)
    })

    it('an empty text payload and an empty bytes payload', async () => {
      await expect(validateRecord(keyBytes(KEY), await make({ payload: { type: 'text', text: '' } }), NOW)).resolves.toMatchObject({ payload: { type: 'text', text: '' } })
      const record = await validateRecord(keyBytes(KEY), await make({ payload: { type: 'bytes', bytes: new Uint8Array(0) } }), NOW)
      expect(record.payload.type).toBe('bytes')
    })

    it('a record signed with a secp256k1 key (its peer ID embeds the key too)', async () => {
      const key = await generateKeyPair('secp256k1')
      const id = peerIdFromPrivateKey(key)
      const record = await validateRecord(keyBytes(KEY), await make({}, key, id), NOW)
      expect(record.author).toBe(id.toString())
    })

    it('a record created up to the allowed clock skew in the future', async () => {
      const value = await make({ createdAt: NOW + MAX_CLOCK_SKEW_MS })
      await expect(validateRecord(keyBytes(KEY), value, NOW)).resolves.toMatchObject({ createdAt: NOW + MAX_CLOCK_SKEW_MS })
    })

    it('a record one millisecond before it expires', async () => {
      const value = await make({ lifetimeMs: 1000 })
      await expect(validateRecord(keyBytes(KEY), value, NOW + 999)).resolves.toBeDefined()
    })
  })

  describe('round trip through the protons codec', () => {
    it.each<[string, RecordPayload]>([
      ['text', { type: 'text', text: 'round trip ✓' }],
      ['bytes', { type: 'bytes', bytes: Uint8Array.of(9, 8, 7, 0, 255) }]
    ])('%s: encode → decode → encode gives equal fields and identical bytes', async (_label, payload) => {
      const value = await make({ payload, sequence: 123456789012345n, lifetimeMs: 2 * DAY })
      const decoded = SignedRecord.decode(value)
      const reencoded = SignedRecord.encode(decoded)
      expect(equals(reencoded, value)).toBe(true)
      const again = SignedRecord.decode(reencoded)
      expect(again).toEqual(decoded)
      expect(again.payloadType).toBe(payload.type === 'text' ? SignedRecord.PayloadType.TEXT : SignedRecord.PayloadType.BYTES)
      expect(again.sequence).toBe(123456789012345n)
      expect(again.expiresAt - again.createdAt).toBe(BigInt(2 * DAY))
      const record = await validateRecord(keyBytes(KEY), reencoded, NOW)
      expect(record.payload).toEqual(payload)
    })
  })

  describe('malformed', () => {
    it('refuses an empty value', async () => {
      // Zero bytes decode as an envelope with every field empty, so its (empty) key cannot match.
      await expectInvalid(validateRecord(keyBytes(KEY), new Uint8Array(0), NOW), 'key-mismatch')
    })

    it.each([
      ['a length-delimited field longer than the value', Uint8Array.of(0x0a, 0x05, 0x01)],
      ['a varint cut off after its first byte', Uint8Array.of(0x28, 0xff)],
      ['an unknown field with wire type 7', Uint8Array.of(0x7f, 0x00)],
      ['a lone tag', Uint8Array.of(0x0a)],
      ['all 0xff', new Uint8Array(64).fill(0xff)],
      ['text', fromString('just some text that is not protobuf')]
    ])('refuses bytes that are no envelope (%s)', async (_label, value) => {
      await expectInvalid(validateRecord(keyBytes(KEY), value, NOW), 'malformed')
    })

    it('refuses random bytes, whatever they happen to decode to', async () => {
      const random = prng(1234)
      let malformed = 0
      for (let run = 0; run < 200; run++) {
        const value = new Uint8Array(1 + Math.floor(random() * 300))
        for (let index = 0; index < value.length; index++) value[index] = Math.floor(random() * 256)
        const err = await rejection(validateRecord(keyBytes(KEY), value, NOW))
        expect(err.name).toBe('InvalidRecordError')
        if (err.reason === 'malformed') malformed++
      }
      // Almost all random byte strings fail to decode at all.
      expect(malformed).toBeGreaterThan(150)
    })

    it('refuses a record cut short', async () => {
      const value = await make()
      for (const cut of [1, 10, 40, Math.floor(value.length / 2)]) {
        const truncated = value.subarray(0, value.length - cut)
        const err = await rejection(validateRecord(keyBytes(KEY), truncated, NOW))
        expect(err.name).toBe('InvalidRecordError')
        // Cutting inside a field breaks decoding; cutting on a field boundary drops fields.
        expect(['malformed', 'unsigned', 'bad-signature']).toContain(err.reason)
      }
      // Ten bytes from the end is inside the 64-byte signature field: no envelope at all.
      await expectInvalid(validateRecord(keyBytes(KEY), value.subarray(0, value.length - 10), NOW), 'malformed')
    })

    it('refuses an author that is not a peer ID multihash', async () => {
      await expectInvalid(validateRecord(keyBytes(KEY), await forge({}, { author: Uint8Array.of(1, 2, 3) }), NOW), 'malformed')
      await expectInvalid(validateRecord(keyBytes(KEY), await forge({}, { author: Digest.create(0x13, new Uint8Array(64)).bytes }), NOW), 'malformed')
    })

    it('refuses a record from the future (beyond the clock skew)', async () => {
      const createdAt = NOW + MAX_CLOCK_SKEW_MS + 1
      const value = await make({ createdAt })
      await expectInvalid(validateRecord(keyBytes(KEY), value, NOW), 'malformed')
      // The same record is fine once the clock has caught up.
      await expect(validateRecord(keyBytes(KEY), value, NOW + 1)).resolves.toBeDefined()
    })

    it('refuses a signed record whose lifetime is zero or negative', async () => {
      await expectInvalid(validateRecord(keyBytes(KEY), await forge({ expiresAt: BigInt(NOW) }), NOW - 1), 'malformed')
      await expectInvalid(validateRecord(keyBytes(KEY), await forge({ expiresAt: BigInt(NOW - 1) }), NOW - 10), 'malformed')
    })

    it('refuses a signed record without an expiry (records from before expiry existed)', async () => {
      await expectInvalid(validateRecord(keyBytes(KEY), await forge({ expiresAt: 0n }), NOW), 'malformed')
    })

    it('refuses a signed record living longer than 7 days, and accepts exactly 7 days', async () => {
      await expectInvalid(validateRecord(keyBytes(KEY), await forge({ expiresAt: BigInt(NOW + MAX_RECORD_LIFETIME_MS + 1) }), NOW), 'malformed')
      await expect(validateRecord(keyBytes(KEY), await forge({ expiresAt: BigInt(NOW + MAX_RECORD_LIFETIME_MS) }), NOW)).resolves.toBeDefined()
    })

    it.each([
      ['a lone continuation byte', Uint8Array.of(0x61, 0x80, 0x62)],
      ['a truncated two-byte sequence', Uint8Array.of(0x61, 0xc3)],
      ['an overlong encoding of "/"', Uint8Array.of(0xc0, 0xaf)],
      ['an encoded surrogate', Uint8Array.of(0xed, 0xa0, 0x80)],
      ['0xff', Uint8Array.of(0xff)]
    ])('refuses a correctly signed text payload that is not UTF-8 (%s)', async (_label, payload) => {
      const value = await forge({ payload: payload as Uint8Array<ArrayBuffer>, payloadType: SignedRecord.PayloadType.TEXT })
      await expectInvalid(validateRecord(keyBytes(KEY), value, NOW), 'malformed')
      // The same bytes are fine as a bytes payload.
      const asBytes = await forge({ payload: payload as Uint8Array<ArrayBuffer>, payloadType: SignedRecord.PayloadType.BYTES })
      await expect(validateRecord(keyBytes(KEY), asBytes, NOW)).resolves.toMatchObject({ payload: { type: 'bytes' } })
    })
  })

  describe('oversized', () => {
    it('refuses an encoded record over the limit before decoding it', async () => {
      await expectInvalid(validateRecord(keyBytes(KEY), new Uint8Array(MAX_ENCODED_RECORD_BYTES + 1).fill(0xff), NOW), 'oversized')
    })

    it('refuses a valid envelope padded past the limit', async () => {
      const value = await make()
      // Append an unknown length-delimited field (field 15) that pushes the size over the limit.
      const filler = MAX_ENCODED_RECORD_BYTES - value.length
      const padded = new Uint8Array([...value, 0x7a, 0x80 | (filler & 0x7f), filler >> 7, ...new Uint8Array(filler)])
      expect(padded.length).toBeGreaterThan(MAX_ENCODED_RECORD_BYTES)
      await expectInvalid(validateRecord(keyBytes(KEY), padded, NOW), 'oversized')
    })

    it('refuses a signed payload over 10 KiB that still fits in the encoded limit', async () => {
      const payload = new Uint8Array(MAX_PAYLOAD_BYTES + 1).fill(0x61)
      const value = await forge({ payload })
      expect(value.length).toBeLessThanOrEqual(MAX_ENCODED_RECORD_BYTES)
      await expectInvalid(validateRecord(keyBytes(KEY), value, NOW), 'oversized')
    })
  })

  describe('unsigned', () => {
    it('refuses a record with an empty signature', async () => {
      const value = tamper(await make(), record => { record.signature = new Uint8Array(0) })
      await expectInvalid(validateRecord(keyBytes(KEY), value, NOW), 'unsigned')
    })

    it('refuses a record without an author', async () => {
      const value = tamper(await make(), record => { record.author = new Uint8Array(0) })
      await expectInvalid(validateRecord(keyBytes(KEY), value, NOW), 'unsigned')
    })

    it('refuses an RSA-style author (sha256 multihash) that does not embed its public key', async () => {
      const rsaStyle = Digest.create(0x12, sha256(fromString('some RSA public key'))).bytes
      await expectInvalid(validateRecord(keyBytes(KEY), await forge({}, { author: rsaStyle }), NOW), 'unsigned')
    })

    it('refuses a URL peer ID as author (no public key either)', async () => {
      const urlId = Digest.create(0x00, fromString('https://example.com/')).bytes
      await expectInvalid(validateRecord(keyBytes(KEY), await forge({}, { author: urlId }), NOW), 'unsigned')
    })
  })

  describe('bad-signature', () => {
    let original: Uint8Array

    beforeAll(async () => {
      original = await make({ payload: { type: 'text', text: 'hello' }, sequence: 5n })
    })

    it('accepts the untouched record (control)', async () => {
      await expect(validateRecord(keyBytes(KEY), original, NOW)).resolves.toMatchObject({ sequence: 5n })
    })

    it.each<[string, (record: SignedRecord) => void]>([
      ['a payload byte flipped', record => { record.payload = flipByte(record.payload, 0) }],
      ['the last payload byte flipped', record => { record.payload = flipByte(record.payload, record.payload.length - 1) }],
      ['a payload byte appended', record => { record.payload = new Uint8Array([...record.payload, 0x21]) }],
      ['the payload type changed', record => { record.payloadType = SignedRecord.PayloadType.BYTES }],
      ['the sequence raised', record => { record.sequence += 1n }],
      ['the sequence lowered', record => { record.sequence -= 1n }],
      ['createdAt moved back 1 ms', record => { record.createdAt -= 1n }],
      ['createdAt moved forward 1 ms', record => { record.createdAt += 1n }],
      ['expiresAt extended by 1 ms', record => { record.expiresAt += 1n }],
      ['expiresAt shortened by 1 ms', record => { record.expiresAt -= 1n }],
      ['the first signature byte flipped', record => { record.signature = flipByte(record.signature, 0) }],
      ['the last signature byte flipped', record => { record.signature = flipByte(record.signature, record.signature.length - 1, 0x80) }],
      // Ed25519 verify throws a TypeError unless the signature is 64 bytes: still a bad signature.
      ['the signature truncated by a byte', record => { record.signature = record.signature.slice(0, -1) }],
      ['the signature extended by a byte', record => { record.signature = new Uint8Array([...record.signature, 0]) }],
      ['a one-byte signature', record => { record.signature = Uint8Array.of(1) }],
      ['another Ed25519 author named', record => { record.author = bobId.toMultihash().bytes as Uint8Array<ArrayBuffer> }]
    ])('refuses a record with %s', async (_label, change) => {
      const value = tamper(original, change)
      expect(equals(value, original)).toBe(false)
      await expectInvalid(validateRecord(keyBytes(KEY), value, NOW), 'bad-signature')
    })

    it('refuses a record whose key was changed and is validated under the new key', async () => {
      const value = tamper(original, record => { record.key = fromString('/webkad/records-tesu') })
      await expectInvalid(validateRecord(keyBytes('/webkad/records-tesu'), value, NOW), 'bad-signature')
    })

    it('refuses a signature made over another domain (raw fields, no webkad prefix)', async () => {
      const envelope = decodeRecordEnvelope(original)
      const signature = await alice.sign(recordSigningBytes(envelope).subarray(fromString('webkad-record-v1\n').length))
      await expectInvalid(validateRecord(keyBytes(KEY), await forge({ sequence: 5n }, { signature }), NOW), 'bad-signature')
    })
  })

  describe('key-mismatch', () => {
    it('refuses a valid record presented under another key', async () => {
      const value = await make({ key: '/webkad/one' })
      await expect(validateRecord(keyBytes('/webkad/one'), value, NOW)).resolves.toBeDefined()
      await expectInvalid(validateRecord(keyBytes('/webkad/two'), value, NOW), 'key-mismatch')
      await expectInvalid(validateRecord(keyBytes('/webkad/one/'), value, NOW), 'key-mismatch')
    })

    it('compares the raw key bytes (an owned key moved to a plain key)', async () => {
      const owned = `/webkad/${aliceId.toString()}/note`
      const value = await make({ key: owned })
      await expectInvalid(validateRecord(keyBytes('/webkad/note'), value, NOW), 'key-mismatch')
    })
  })

  describe('wrong-owner', () => {
    it('refuses an owned key signed (correctly) by another peer', async () => {
      const key = `/webkad/${aliceId.toString()}/profile`
      const value = await forge({ key: fromString(key) }, { signer: bob })
      await expectInvalid(validateRecord(keyBytes(key), value, NOW), 'wrong-owner')
    })

    it('accepts the same record for a key owned by its signer (control)', async () => {
      const key = `/webkad/${bobId.toString()}/profile`
      const value = await forge({ key: fromString(key) }, { signer: bob })
      await expect(validateRecord(keyBytes(key), value, NOW)).resolves.toMatchObject({ author: bobId.toString() })
    })
  })

  describe('bad-key', () => {
    it.each([
      ['an empty name', '/webkad/'],
      ['a name over 200 bytes', `/webkad/${'k'.repeat(201)}`],
      ['a control character', '/webkad/a\nb'],
      ['an owned key without a name', () => `/webkad/${aliceId.toString()}/`]
    ])('refuses a DHT key that is not a webkad key (%s)', async (_label, key) => {
      const text = typeof key === 'function' ? key() : key
      // The envelope claims exactly that key, so only the key rule can refuse it.
      const value = await forge({ key: fromString(text) })
      await expectInvalid(validateRecord(keyBytes(text), value, NOW), 'bad-key')
    })

    it('refuses a DHT key outside /webkad/ even when the rest would be a valid name', async () => {
      const value = await forge({ key: fromString('/ipns/name') })
      await expectInvalid(validateRecord(keyBytes('/ipns/name'), value, NOW), 'bad-key')
    })

    it('refuses a DHT key whose bytes are not UTF-8', async () => {
      const key = new Uint8Array([...fromString('/webkad/'), 0xff, 0x61])
      const value = await forge({ key })
      await expectInvalid(validateRecord(key, value, NOW), 'bad-key')
    })
  })

  describe('expired', () => {
    it('refuses a record at and after its expiry, using the given clock', async () => {
      const value = await make({ lifetimeMs: 60_000 })
      await expect(validateRecord(keyBytes(KEY), value, NOW + 59_999)).resolves.toBeDefined()
      await expectInvalid(validateRecord(keyBytes(KEY), value, NOW + 60_000), 'expired')
      await expectInvalid(validateRecord(keyBytes(KEY), value, NOW + 10 * DAY), 'expired')
    })

    it('uses the real clock by default', async () => {
      const old = await make({ createdAt: Date.now() - 2 * DAY, lifetimeMs: DAY })
      await expectInvalid(validateRecord(keyBytes(KEY), old), 'expired')
      const fresh = await make({ createdAt: Date.now(), lifetimeMs: DAY })
      await expect(validateRecord(keyBytes(KEY), fresh)).resolves.toBeDefined()
    })
  })
})

describe('compareRecords', () => {
  const record = (sequence: bigint, createdAt: bigint, signature: number[]): Pick<SignedRecord, 'sequence' | 'createdAt' | 'signature'> =>
    ({ sequence, createdAt, signature: Uint8Array.from(signature) })

  it('prefers the higher sequence, whatever the times and signatures', () => {
    expect(compareRecords(record(2n, 1n, [0]), record(1n, 9n, [255]))).toBeGreaterThan(0)
    expect(compareRecords(record(1n, 9n, [255]), record(2n, 1n, [0]))).toBeLessThan(0)
  })

  it('prefers the newer creation time on equal sequences', () => {
    expect(compareRecords(record(3n, 20n, [0]), record(3n, 10n, [255]))).toBeGreaterThan(0)
    expect(compareRecords(record(3n, 10n, [255]), record(3n, 20n, [0]))).toBeLessThan(0)
  })

  it('breaks a full tie on the signature bytes, and is 0 only for equal records', () => {
    expect(compareRecords(record(3n, 10n, [1, 2]), record(3n, 10n, [1, 1]))).toBeGreaterThan(0)
    expect(compareRecords(record(3n, 10n, [1, 1]), record(3n, 10n, [1, 2]))).toBeLessThan(0)
    expect(compareRecords(record(3n, 10n, [1, 2]), record(3n, 10n, [1, 2]))).toBe(0)
  })

  it('compares sequences as unsigned 64-bit numbers, not as numbers that lose precision', () => {
    const big = 2n ** 63n
    expect(compareRecords(record(big + 1n, 0n, [0]), record(big, 0n, [0]))).toBeGreaterThan(0)
  })
})

describe('selectRecord', () => {
  const KEY = keyBytes('/webkad/records-test')

  it('picks the highest sequence in any order', async () => {
    const records = await Promise.all([
      make({ sequence: 1n, createdAt: NOW + 500 }),
      make({ sequence: 5n, createdAt: NOW - 500 }),
      make({ sequence: 3n })
    ])
    for (const order of permutations(records)) {
      const chosen = order[selectRecord(KEY, order, NOW)]
      expect(chosen).toBe(records[1])
    }
  })

  it('picks the newest record on equal sequences', async () => {
    const older = await make({ sequence: 4n, createdAt: NOW - 2000 })
    const newer = await make({ sequence: 4n, createdAt: NOW - 1000 })
    expect(selectRecord(KEY, [older, newer], NOW)).toBe(1)
    expect(selectRecord(KEY, [newer, older], NOW)).toBe(0)
  })

  it('picks the same record for every order on a full tie (by signature bytes)', async () => {
    const records = await Promise.all(['a', 'b', 'c', 'd'].map(async text => await make({ sequence: 7n, payload: { type: 'text', text } })))
    const signatures = records.map(value => decodeRecordEnvelope(value).signature)
    const expected = records[signatures.reduce((best, signature, index) => compare(signature, signatures[best] ?? signature) > 0 ? index : best, 0)]
    for (const order of permutations(records)) {
      expect(order[selectRecord(KEY, order, NOW)]).toBe(expected)
    }
  })

  it('never picks an undecodable record', async () => {
    const valid = await make({ sequence: 1n })
    const garbage = Uint8Array.of(0x0a, 0x05, 0x01)
    const huge = new Uint8Array(MAX_ENCODED_RECORD_BYTES + 1)
    expect(selectRecord(KEY, [garbage, huge, valid], NOW)).toBe(2)
    expect(selectRecord(KEY, [valid, garbage], NOW)).toBe(0)
  })

  it('never picks an expired record, even with a higher sequence', async () => {
    const expired = await make({ sequence: 99n, createdAt: NOW - 2 * DAY, lifetimeMs: DAY })
    const current = await make({ sequence: 1n })
    expect(selectRecord(KEY, [expired, current], NOW)).toBe(1)
    expect(selectRecord(KEY, [current, expired], NOW)).toBe(0)
    // Expiry is judged against the `now` given: earlier, the higher sequence wins again.
    expect(selectRecord(KEY, [current, expired], NOW - 2 * DAY)).toBe(1)
  })

  it('returns 0 when no record is usable (kad-dht only selects among records it has validated)', async () => {
    const expired = await make({ sequence: 2n, createdAt: NOW - 2 * DAY, lifetimeMs: DAY })
    expect(selectRecord(KEY, [Uint8Array.of(0xff), expired, new Uint8Array(MAX_ENCODED_RECORD_BYTES + 1)], NOW)).toBe(0)
    expect(selectRecord(KEY, [], NOW)).toBe(0)
  })

  it('does not check signatures: it relies on kad-dht validating every record first', async () => {
    const genuine = await make({ sequence: 1n })
    const forged = tamper(genuine, record => { record.sequence = 2n })
    await expectInvalid(validateRecord(KEY, forged, NOW), 'bad-signature')
    expect(selectRecord(KEY, [genuine, forged], NOW)).toBe(1)
  })
})

describe('isRecordExpired', () => {
  it('is false before expiresAt and true from expiresAt on', async () => {
    const value = await make({ lifetimeMs: 5000 })
    expect(isRecordExpired(value, NOW)).toBe(false)
    expect(isRecordExpired(value, NOW + 4999)).toBe(false)
    expect(isRecordExpired(value, NOW + 5000)).toBe(true)
    expect(isRecordExpired(value, NOW + 5001)).toBe(true)
  })

  it('uses the real clock by default', async () => {
    expect(isRecordExpired(await make({ createdAt: Date.now(), lifetimeMs: DAY }))).toBe(false)
    expect(isRecordExpired(await make({ createdAt: Date.now() - 2 * DAY, lifetimeMs: DAY }))).toBe(true)
  })

  it('counts undecodable, oversized and expiry-less records as expired', async () => {
    expect(isRecordExpired(Uint8Array.of(0x0a, 0x05, 0x01), NOW)).toBe(true)
    expect(isRecordExpired(new Uint8Array(MAX_ENCODED_RECORD_BYTES + 1), NOW)).toBe(true)
    expect(isRecordExpired(await forge({ expiresAt: 0n }), NOW)).toBe(true)
  })
})

describe('decodeRecordEnvelope', () => {
  it('decodes without verifying, and refuses with a reason', async () => {
    const forged = tamper(await make(), record => { record.sequence = 77n })
    expect(decodeRecordEnvelope(forged).sequence).toBe(77n)
    let err: (Error & { reason?: string }) | undefined
    try { decodeRecordEnvelope(Uint8Array.of(0x0a, 0x05)) } catch (caught) { err = caught as Error & { reason?: string } }
    expect(err?.name).toBe('InvalidRecordError')
    expect(err?.reason).toBe('malformed')
  })
})
