import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromPublicKey, peerIdFromString } from '@libp2p/peer-id'
import fc from 'fast-check'
import { compare, concat, equals, fromString } from 'uint8arrays'
import { beforeAll, describe, expect, it } from 'vitest'
import { varint } from '../helpers/varint.ts'
import { fuzzRuns } from './fuzz-runs.ts'
import { SignedRecord } from '../../src/p2p/dht/pb/record.ts'
import {
  MAX_ENCODED_RECORD_BYTES,
  createSignedRecord,
  decodeRecordEnvelope,
  recordSigningBytes,
  selectRecord,
  validateRecord
} from '../../src/p2p/dht/records.ts'
import { InvalidRecordError } from '../../src/p2p/errors.ts'
import type { InvalidRecordReason } from '../../src/p2p/errors.ts'
import type { PeerId, PrivateKey } from '@libp2p/interface'

/**
 * Property-based fuzzing of webkad's record validator and selector with fast-check.
 * Seeds are fixed (FUZZ_SEED overrides) so a failure replays; fast-check prints the seed and the
 * shrunk counterexample. FUZZ_RUNS multiplies the run counts for a longer local session.
 */
const runs = fuzzRuns(0x5eed_0001)

const NOW = 1_750_000_000_000
const HOUR = 60 * 60 * 1000
const DAY = 24 * HOUR
const KNOWN_REASONS: InvalidRecordReason[] = ['malformed', 'oversized', 'unsigned', 'bad-signature', 'key-mismatch', 'wrong-owner', 'bad-key', 'expired']

interface Signer { key: PrivateKey, id: PeerId }

/** Every record some author really signed: the only things the validator may ever accept. */
interface PoolEntry { key: Uint8Array, value: Uint8Array, envelope: SignedRecord }

let alice: Signer
let bob: Signer
let valid: PoolEntry[] = []
let expired: PoolEntry[] = []

async function signer (): Promise<Signer> {
  const key = await generateKeyPair('Ed25519')
  return { key, id: peerIdFromPrivateKey(key) }
}

async function entry (by: Signer, key: string, payload: { type: 'text', text: string } | { type: 'bytes', bytes: Uint8Array }, sequence: bigint, createdAt: number, lifetimeMs: number): Promise<PoolEntry> {
  const value = await createSignedRecord(by.key, by.id, { key, payload, sequence, createdAt, lifetimeMs })
  return { key: fromString(key), value, envelope: SignedRecord.decode(value) }
}

beforeAll(async () => {
  alice = await signer()
  bob = await signer()
  const texts = ['hello', 'ünïcødé ✓ 🐱', '', 'x'.repeat(10 * 1024 - 3) + '€', '\u0000 control chars are fine in values \u001f']
  const made: Array<Promise<PoolEntry>> = []
  for (let index = 0; index < 24; index++) {
    const by = index % 3 === 0 ? bob : alice
    const key = index % 4 === 0 ? `/webkad/${by.id.toString()}/owned-${index}` : `/webkad/open-${index % 6}`
    const payload = index % 5 === 0
      ? { type: 'bytes' as const, bytes: Uint8Array.from({ length: (index * 37) % 300 }, (_, at) => (at * 31 + index) & 0xff) }
      : { type: 'text' as const, text: texts[index % texts.length]! }
    const sequence = [0n, 1n, 2n, 127n, 128n, 2n ** 32n, 2n ** 63n, 2n ** 64n - 1n][index % 8]!
    made.push(entry(by, key, payload, sequence, NOW - (index % 7) * HOUR, DAY + index * 1000))
  }
  // Signed correctly but dead at NOW: selectRecord must never pick one of these over a live one.
  for (let index = 0; index < 8; index++) {
    const by = index % 2 === 0 ? alice : bob
    made.push(entry(by, `/webkad/open-${index % 6}`, { type: 'text', text: `old ${index}` }, 2n ** 64n - 1n - BigInt(index), NOW - 3 * DAY, DAY + index))
  }
  const all = await Promise.all(made)
  valid = all.slice(0, 24)
  expired = all.slice(24)
  for (const { key, value } of valid) await validateRecord(key, value, NOW) // the pool itself must be valid
})

// ---------------------------------------------------------------------------------------------
// protobuf wire-format helpers: enough to cut a record into fields and put it back together

interface WireField { field: number, wireType: number, raw: Uint8Array, body: Uint8Array }


/** Same value, `extra` redundant continuation bytes: decodes identically, bytes differ. */
function paddedVarint (value: bigint, extra: number): Uint8Array {
  const canonical = [...varint(value)]
  const last = canonical.pop()!
  return Uint8Array.from([...canonical, last | 0x80, ...Array<number>(Math.max(0, extra - 1)).fill(0x80), 0x00])
}

function readVarint (bytes: Uint8Array, at: number): [bigint, number] | undefined {
  let value = 0n
  for (let shift = 0n, index = at; index < bytes.length && shift < 70n; shift += 7n, index++) {
    const byte = bytes[index]!
    value |= BigInt(byte & 0x7f) << shift
    if ((byte & 0x80) === 0) return [value, index + 1]
  }
  return undefined
}

/** Splits well-formed protobuf (wire types 0 and 2 only) into fields; undefined otherwise. */
function splitFields (bytes: Uint8Array): WireField[] | undefined {
  const fields: WireField[] = []
  let at = 0
  while (at < bytes.length) {
    const tag = readVarint(bytes, at)
    if (tag == null) return undefined
    const [tagValue, afterTag] = tag
    const wireType = Number(tagValue & 7n)
    const field = Number(tagValue >> 3n)
    let end: number
    let bodyStart: number
    if (wireType === 0) {
      const body = readVarint(bytes, afterTag)
      if (body == null) return undefined
      bodyStart = afterTag
      end = body[1]
    } else if (wireType === 2) {
      const length = readVarint(bytes, afterTag)
      if (length == null) return undefined
      bodyStart = length[1]
      end = bodyStart + Number(length[0])
      if (end > bytes.length) return undefined
    } else {
      return undefined
    }
    fields.push({ field, wireType, raw: bytes.subarray(at, end), body: bytes.subarray(bodyStart, end) })
    at = end
  }
  return fields
}

function lengthDelimited (field: number, body: Uint8Array): Uint8Array {
  return concat([varint((field << 3) | 2), varint(body.length), body])
}

/** Around the size limit: a random byte pattern repeated (building 11 KiB byte by byte is slow). */
function oversizedBytes (from: number): fc.Arbitrary<Uint8Array> {
  return fc.tuple(fc.integer({ min: from, max: from + 8 }), fc.uint8Array({ minLength: 1, maxLength: 16 })).map(([extra, pattern]) => {
    const bytes = new Uint8Array(MAX_ENCODED_RECORD_BYTES + extra)
    for (let at = 0; at < bytes.length; at++) bytes[at] = pattern[at % pattern.length]!
    return bytes
  })
}

function sameEnvelope (a: SignedRecord, b: SignedRecord): boolean {
  return equals(a.key, b.key) && equals(a.payload, b.payload) && a.payloadType === b.payloadType &&
    equals(a.author, b.author) && a.sequence === b.sequence && a.createdAt === b.createdAt &&
    equals(a.signature, b.signature) && a.expiresAt === b.expiresAt
}

// ---------------------------------------------------------------------------------------------
// mutations of a valid record

type Mutation =
  | { kind: 'flip', at: number, bit: number }
  | { kind: 'truncate', at: number }
  | { kind: 'append', bytes: Uint8Array }
  | { kind: 'insert', at: number, bytes: Uint8Array }
  | { kind: 'overwrite', at: number, byte: number }
  | { kind: 'swap-fields', a: number, b: number }
  | { kind: 'drop-field', at: number }
  | { kind: 'duplicate-field', at: number }
  | { kind: 'graft-field', from: number, field: number }
  | { kind: 'swap-bodies', a: number, b: number }
  | { kind: 'pad-varint', at: number, extra: number }
  | { kind: 'set-varint', field: number, value: bigint }
  | { kind: 'author-alias', variant: number }
  | { kind: 'unknown-field', field: number, body: Uint8Array }

const index = fc.nat({ max: 1 << 16 })
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: index, bit: fc.nat({ max: 7 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: index }),
  fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 24 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: index, bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('overwrite' as const), at: index, byte: fc.nat({ max: 255 }) }),
  fc.record({ kind: fc.constant('swap-fields' as const), a: index, b: index }),
  fc.record({ kind: fc.constant('drop-field' as const), at: index }),
  fc.record({ kind: fc.constant('duplicate-field' as const), at: index }),
  fc.record({ kind: fc.constant('graft-field' as const), from: index, field: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('swap-bodies' as const), a: index, b: index }),
  fc.record({ kind: fc.constant('pad-varint' as const), at: index, extra: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ kind: fc.constant('set-varint' as const), field: fc.constantFrom(3, 5, 6, 8), value: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }),
  fc.record({ kind: fc.constant('author-alias' as const), variant: fc.nat({ max: 3 }) }),
  fc.record({ kind: fc.constant('unknown-field' as const), field: fc.integer({ min: 9, max: 2000 }), body: fc.uint8Array({ maxLength: 8 }) })
)

/** A different encoding of the author's own public key: same key, different peer-ID bytes. */
function authorAlias (author: Uint8Array, variant: number): Uint8Array {
  // author = identity multihash: 0x00, length, PublicKey protobuf (08 01 12 20 <32 bytes>)
  const publicKey = author.subarray(2)
  const fields = splitFields(publicKey) ?? []
  let body: Uint8Array
  if (variant === 0) body = concat([publicKey, Uint8Array.of(0x18, 0x01)]) // unknown field
  else if (variant === 1) body = concat([...fields.slice(1).map(field => field.raw), ...fields.slice(0, 1).map(field => field.raw)]) // reordered
  else if (variant === 2) body = concat([Uint8Array.of(0x08, 0x81, 0x00), ...fields.slice(1).map(field => field.raw)]) // padded varint
  else return concat([Uint8Array.of(0x00), paddedVarint(BigInt(publicKey.length), 1), publicKey]) // padded length
  return concat([Uint8Array.of(0x00), varint(body.length), body])
}

function mutate (value: Uint8Array, change: Mutation, donor: Uint8Array): Uint8Array {
  const at = (position: number, length: number): number => length === 0 ? 0 : position % length
  const fields = splitFields(value) ?? []
  const join = (parts: WireField[]): Uint8Array => concat(parts.map(part => part.raw))
  switch (change.kind) {
    case 'flip': {
      const copy = new Uint8Array(value)
      const where = at(change.at, copy.length)
      copy[where] = copy[where]! ^ (1 << change.bit)
      return copy
    }
    case 'truncate': return value.slice(0, at(change.at, value.length))
    case 'append': return concat([value, change.bytes])
    case 'insert': {
      const where = at(change.at, value.length + 1)
      return concat([value.subarray(0, where), change.bytes, value.subarray(where)])
    }
    case 'overwrite': {
      const copy = new Uint8Array(value)
      copy[at(change.at, copy.length)] = change.byte
      return copy
    }
    case 'swap-fields': {
      if (fields.length === 0) return value
      const parts = [...fields]
      const a = at(change.a, parts.length)
      const b = at(change.b, parts.length)
      ;[parts[a], parts[b]] = [parts[b]!, parts[a]!]
      return join(parts)
    }
    case 'drop-field': return join(fields.filter((_, position) => position !== at(change.at, fields.length)))
    case 'duplicate-field': {
      const copy = fields[at(change.at, fields.length)]
      return copy == null ? value : concat([value, copy.raw])
    }
    case 'graft-field': {
      // The same field taken from another signed record (a field swap between records).
      const graft = (splitFields(donor) ?? []).find(field => field.field === change.field)
      if (graft == null) return value
      return join([...fields.filter(field => field.field !== change.field), graft])
    }
    case 'swap-bodies': {
      // Exchange the contents of two fields of the same wire type (e.g. key and payload).
      const parts = [...fields]
      const a = at(change.a, parts.length)
      const b = at(change.b, parts.length)
      const first = parts[a]
      const second = parts[b]
      if (first == null || second == null || first.wireType !== second.wireType) return value
      const rebuild = (field: WireField, body: Uint8Array): WireField => {
        const raw = field.wireType === 2 ? lengthDelimited(field.field, body) : concat([varint(field.field << 3), body])
        return { ...field, raw, body }
      }
      parts[a] = rebuild(first, second.body)
      parts[b] = rebuild(second, first.body)
      return join(parts)
    }
    case 'pad-varint': {
      const numeric = fields.filter(field => field.wireType === 0)
      const target = numeric[at(change.at, numeric.length)]
      if (target == null) return value
      const decoded = readVarint(target.body, 0)
      if (decoded == null) return value
      return join(fields.map(field => field === target
        ? { ...field, raw: concat([varint(field.field << 3), paddedVarint(decoded[0], change.extra)]) }
        : field))
    }
    case 'set-varint': return join([...fields.filter(field => field.field !== change.field), {
      field: change.field, wireType: 0, raw: concat([varint(change.field << 3), varint(change.value)]), body: varint(change.value)
    }])
    case 'author-alias': {
      const author = fields.find(field => field.field === 4)
      if (author == null) return value
      return join(fields.map(field => field === author ? { ...field, raw: lengthDelimited(4, authorAlias(author.body, change.variant)) } : field))
    }
    case 'unknown-field': return concat([value, lengthDelimited(change.field, change.body)])
  }
}

/**
 * The validator's contract: it resolves only for a record whose decoded fields are exactly those
 * of a record an author signed (checked here independently: the canonical peer ID of the author's
 * key, and the signature over the returned fields), and otherwise rejects with InvalidRecordError
 * and one of the known reasons.
 */
async function checkValidation (key: Uint8Array, value: Uint8Array): Promise<'accepted' | InvalidRecordReason> {
  let record
  try {
    record = await validateRecord(key, value, NOW)
  } catch (err) {
    if (!(err instanceof InvalidRecordError)) throw new Error(`validateRecord threw ${(err as Error)?.name}: ${(err as Error)?.message}`)
    if (!KNOWN_REASONS.includes(err.reason)) throw new Error(`unknown reason ${err.reason}`)
    return err.reason
  }
  const decoded = SignedRecord.decode(value)
  const signed = valid.find(candidate => sameEnvelope(candidate.envelope, decoded))
  if (signed == null) throw new Error('accepted a record no author signed (its decoded fields match no signed record)')
  if (!equals(signed.key, key)) throw new Error('accepted a record under a key it was not signed for')
  // Re-signing check: the author string is the canonical ID of the key that signed these fields.
  const author = peerIdFromString(record.author)
  if (author.publicKey == null) throw new Error('accepted an author without a public key')
  if (!peerIdFromPublicKey(author.publicKey).equals(author)) throw new Error(`accepted an author ${record.author} that is not the canonical peer ID of its key`)
  const signingBytes = recordSigningBytes({
    key: fromString(record.key) as Uint8Array<ArrayBuffer>,
    payload: (record.payload.type === 'text' ? fromString(record.payload.text) : record.payload.bytes) as Uint8Array<ArrayBuffer>,
    payloadType: record.payload.type === 'text' ? SignedRecord.PayloadType.TEXT : SignedRecord.PayloadType.BYTES,
    sequence: record.sequence,
    createdAt: BigInt(record.createdAt),
    expiresAt: BigInt(record.expiresAt)
  })
  if (!(await author.publicKey.verify(signingBytes, record.signature))) throw new Error('the returned fields do not verify under the author\'s key')
  return 'accepted'
}

describe('validateRecord under fuzzing', () => {
  it('accepts every unmodified record of the pool (the oracle itself is sound)', async () => {
    for (const { key, value } of valid) expect(await checkValidation(key, value)).toBe('accepted')
  })

  it('rejects arbitrary bytes with InvalidRecordError and a known reason', async () => {
    const keyArb = fc.oneof(
      fc.constantFrom(...['/webkad/open-1', '/webkad/x', `/webkad/${'n'.repeat(200)}`].map(text => fromString(text))),
      fc.uint8Array({ maxLength: 64 }),
      fc.string({ unit: 'binary', maxLength: 40 }).map(text => fromString(`/webkad/${text}`))
    )
    const valueArb = fc.oneof(
      { weight: 4, arbitrary: fc.uint8Array({ maxLength: 600 }) },
      { weight: 1, arbitrary: oversizedBytes(-4) },
      // Plausible protobuf: random fields with the record's field numbers and wire types.
      { weight: 4, arbitrary: fc.array(fc.oneof(
        fc.tuple(fc.integer({ min: 1, max: 8 }), fc.uint8Array({ maxLength: 80 })).map(([field, body]) => lengthDelimited(field, body)),
        fc.tuple(fc.integer({ min: 1, max: 8 }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })).map(([field, value]) => concat([varint(field << 3), varint(value)]))
      ), { maxLength: 10 }).map(parts => concat(parts)) }
    )
    let rejected = 0
    await fc.assert(fc.asyncProperty(keyArb, valueArb, async (key, value) => {
      const outcome = await checkValidation(key, value)
      if (outcome !== 'accepted') rejected++
    }), runs(1500))
    expect(rejected).toBeGreaterThan(0)
  })

  it('never accepts a mutated record unless its decoded fields are those of a signed record', async () => {
    const outcomes = new Map<string, number>()
    await fc.assert(fc.asyncProperty(fc.nat(), fc.nat(), fc.array(mutation, { minLength: 1, maxLength: 3 }), fc.boolean(), async (pick, donorPick, changes, otherKey) => {
      const original = valid[pick % valid.length]!
      const donor = valid[donorPick % valid.length]!
      let value = original.value
      for (const change of changes) value = mutate(value, change, donor.value)
      // Mostly the key the record was signed for; sometimes the donor's key.
      const key = otherKey ? donor.key : original.key
      const outcome = await checkValidation(key, value)
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1)
    }), runs(2500))
    // The mutations reach the deep checks, not only the decoder.
    for (const reason of ['malformed', 'bad-signature', 'key-mismatch', 'accepted']) expect(outcomes.get(reason) ?? 0, `outcome ${reason}`).toBeGreaterThan(0)
  })

  it('refuses an author written as another encoding of the same key (mis-attribution)', async () => {
    // An open key: on an owned key the alias is already refused as 'wrong-owner'.
    const original = valid.find(candidate => new TextDecoder().decode(candidate.key).startsWith('/webkad/open-'))!
    for (let variant = 0; variant < 4; variant++) {
      const value = mutate(original.value, { kind: 'author-alias', variant }, original.value)
      expect(sameEnvelope(SignedRecord.decode(value), original.envelope)).toBe(false)
      await expect(validateRecord(original.key, value, NOW)).rejects.toMatchObject({ name: 'InvalidRecordError', reason: 'malformed' })
    }
  })
})

describe('selectRecord under fuzzing', () => {
  it('never picks an undecodable or expired record when a live one exists, and picks the best live one', () => {
    const undecodable = fc.oneof(
      oversizedBytes(1),
      fc.tuple(fc.nat(), fc.nat()).map(([pick, cut]) => {
        const value = valid[pick % valid.length]!.value
        return value.slice(0, 1 + (cut % (value.length - 1)))
      }),
      fc.uint8Array({ maxLength: 64 })
    ).filter(value => {
      try {
        decodeRecordEnvelope(value)
        return false
      } catch {
        return true
      }
    })
    const candidate = fc.oneof(
      fc.nat().map(pick => ({ kind: 'live' as const, value: valid[pick % valid.length]!.value })),
      fc.nat().map(pick => ({ kind: 'expired' as const, value: expired[pick % expired.length]!.value })),
      undecodable.map(value => ({ kind: 'undecodable' as const, value }))
    )
    fc.assert(fc.property(fc.array(candidate, { minLength: 1, maxLength: 12 }), (list) => {
      const picked = selectRecord(new Uint8Array(0), list.map(item => item.value), NOW)
      expect(picked).toBeGreaterThanOrEqual(0)
      expect(picked).toBeLessThan(list.length)
      const live = list.filter(item => item.kind === 'live')
      if (live.length === 0) return
      expect(list[picked]!.kind).toBe('live')
      const chosen = SignedRecord.decode(list[picked]!.value)
      for (const item of live) {
        const other = SignedRecord.decode(item.value)
        // No live record beats the chosen one: highest sequence, then newest, then signature bytes.
        const beats = other.sequence > chosen.sequence ||
          (other.sequence === chosen.sequence && (other.createdAt > chosen.createdAt ||
            (other.createdAt === chosen.createdAt && compare(other.signature, chosen.signature) > 0)))
        expect(beats).toBe(false)
      }
    }), runs(1500))
  })

  it('picks the same record whatever the order of the candidates', () => {
    fc.assert(fc.property(fc.uniqueArray(fc.nat({ max: valid.length + expired.length - 1 }), { minLength: 1, maxLength: 10 }), fc.nat(), (picks, rotation) => {
      fc.pre(picks.some(pick => pick < valid.length))
      const values = picks.map(pick => pick < valid.length ? valid[pick]!.value : expired[pick - valid.length]!.value)
      const rotated = [...values.slice(rotation % values.length), ...values.slice(0, rotation % values.length)]
      const a = values[selectRecord(new Uint8Array(0), values, NOW)]!
      const b = rotated[selectRecord(new Uint8Array(0), rotated, NOW)]!
      expect(equals(a, b)).toBe(true)
    }), runs(500))
  })
})
