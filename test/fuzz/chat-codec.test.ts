import fc from 'fast-check'
import { Uint8ArrayList } from 'uint8arraylist'
import { concat, equals, fromString } from 'uint8arrays'
import { describe, expect, it } from 'vitest'
import { varint } from '../helpers/varint.ts'
import { fuzzRuns } from './fuzz-runs.ts'
import {
  MAX_CHAT_FRAME_BYTES,
  MAX_CHAT_TEXT_BYTES,
  MESSAGE_ID_BYTES,
  checkChatText,
  decodeChatFrame,
  decodeChatFrameLength,
  encodeChatFrame
} from '../../src/p2p/services/chat/chat-codec.ts'
import { ChatProtocolError, InvalidMessageTextError, MessageTooLongError } from '../../src/p2p/errors.ts'
import type { DecodedChatFrame } from '../../src/p2p/services/chat/chat-codec.ts'

/**
 * Property-based fuzzing of the chat wire codec and the text check with fast-check.
 * Seeds are fixed (FUZZ_SEED overrides); fast-check prints seed and counterexample on failure.
 */
const runs = fuzzRuns(0x5eed_0002)
const REASONS = ['malformed', 'oversized', 'unknown-fields', 'unexpected-frame']
/** sentAt is handed to the app as a JS number: the largest exact one. */
const MAX_SENT_AT = Number.MAX_SAFE_INTEGER

// ---------------------------------------------------------------------------------------------
// protobuf wire-format helpers


function readVarint (bytes: Uint8Array, at: number): [bigint, number] | undefined {
  let value = 0n
  for (let shift = 0n, index = at; index < bytes.length && shift < 70n; shift += 7n, index++) {
    const byte = bytes[index]!
    value |= BigInt(byte & 0x7f) << shift
    if ((byte & 0x80) === 0) return [value, index + 1]
  }
  return undefined
}

interface WireField { field: number, wireType: number, raw: Uint8Array }

function splitFields (bytes: Uint8Array): WireField[] {
  const fields: WireField[] = []
  let at = 0
  while (at < bytes.length) {
    const tag = readVarint(bytes, at)
    if (tag == null) return fields
    const wireType = Number(tag[0] & 7n)
    let end: number
    if (wireType === 0) end = readVarint(bytes, tag[1])?.[1] ?? bytes.length
    else if (wireType === 2) {
      const length = readVarint(bytes, tag[1])
      if (length == null) return fields
      end = length[1] + Number(length[0])
    } else return fields
    if (end > bytes.length) return fields
    fields.push({ field: Number(tag[0] >> 3n), wireType, raw: bytes.subarray(at, end) })
    at = end
  }
  return fields
}

const varintField = (field: number, value: bigint): Uint8Array => concat([varint(field << 3), varint(value)])
const bytesField = (field: number, body: Uint8Array): Uint8Array => concat([varint((field << 3) | 2), varint(body.length), body])

// ---------------------------------------------------------------------------------------------
// generators

/** Well-formed text: any code points (never a lone surrogate), not blank, within the limit. */
const goodText = fc.oneof(
  fc.string({ unit: 'binary', minLength: 1, maxLength: 60 }),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }),
  fc.tuple(fc.constantFrom('a', 'é', '€', '🐱'), fc.integer({ min: 1, max: 4096 })).map(([char, count]) => char.repeat(count))
).filter(text => text.trim() !== '' && new TextEncoder().encode(text).byteLength <= MAX_CHAT_TEXT_BYTES)

const validFrame: fc.Arbitrary<DecodedChatFrame> = fc.oneof(
  fc.record({
    kind: fc.constant('message' as const),
    id: fc.uint8Array({ minLength: MESSAGE_ID_BYTES, maxLength: MESSAGE_ID_BYTES }),
    sequence: fc.bigInt({ min: 1n, max: 2n ** 64n - 1n }),
    sentAt: fc.oneof(fc.integer({ min: 1, max: MAX_SENT_AT }), fc.constantFrom(1, MAX_SENT_AT)),
    text: goodText
  }),
  fc.record({
    kind: fc.constant('ack' as const),
    id: fc.uint8Array({ minLength: MESSAGE_ID_BYTES, maxLength: MESSAGE_ID_BYTES }),
    sequence: fc.bigInt({ min: 1n, max: 2n ** 64n - 1n })
  })
)

type Mutation = (bytes: Uint8Array) => Uint8Array
const position = fc.nat({ max: 1 << 16 })
const at = (where: number, length: number): number => length === 0 ? 0 : where % length

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.tuple(position, fc.nat({ max: 7 })).map(([where, bit]): Mutation => (bytes) => {
    const copy = new Uint8Array(bytes)
    if (copy.length > 0) copy[at(where, copy.length)] = copy[at(where, copy.length)]! ^ (1 << bit)
    return copy
  }),
  position.map((where): Mutation => (bytes) => bytes.slice(0, at(where, bytes.length))),
  fc.uint8Array({ minLength: 1, maxLength: 16 }).map((extra): Mutation => (bytes) => concat([bytes, extra])),
  fc.tuple(position, fc.uint8Array({ minLength: 1, maxLength: 6 })).map(([where, extra]): Mutation => (bytes) => {
    const split = at(where, bytes.length + 1)
    return concat([bytes.subarray(0, split), extra, bytes.subarray(split)])
  }),
  // Field-level: reorder, drop, duplicate, replace a number, graft text bytes, unknown fields.
  fc.tuple(position, position).map(([a, b]): Mutation => (bytes) => {
    const fields = splitFields(bytes)
    if (fields.length === 0) return bytes
    const i = at(a, fields.length)
    const j = at(b, fields.length)
    ;[fields[i], fields[j]] = [fields[j]!, fields[i]!]
    return concat(fields.map(field => field.raw))
  }),
  position.map((where): Mutation => (bytes) => {
    const fields = splitFields(bytes)
    return concat(fields.filter((_, index) => index !== at(where, fields.length)).map(field => field.raw))
  }),
  position.map((where): Mutation => (bytes) => {
    const fields = splitFields(bytes)
    const copy = fields[at(where, fields.length)]
    return copy == null ? bytes : concat([bytes, copy.raw])
  }),
  fc.tuple(fc.constantFrom(1, 3, 4), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })).map(([field, value]): Mutation => (bytes) =>
    concat([...splitFields(bytes).filter(existing => existing.field !== field).map(existing => existing.raw), varintField(field, value)])),
  fc.tuple(fc.constantFrom(2, 5), fc.oneof(
    fc.uint8Array({ maxLength: 24 }),
    fc.constantFrom(Uint8Array.of(0xed, 0xa0, 0x80), Uint8Array.of(0xed, 0xbf, 0xbf), Uint8Array.of(0xc0, 0x80), Uint8Array.of(0xff), Uint8Array.of(0xf4, 0x90, 0x80, 0x80))
  )).map(([field, body]): Mutation => (bytes) =>
    concat([...splitFields(bytes).filter(existing => existing.field !== field).map(existing => existing.raw), bytesField(field, body)])),
  fc.tuple(fc.integer({ min: 6, max: 1000 }), fc.uint8Array({ maxLength: 8 })).map(([field, body]): Mutation => (bytes) => concat([bytes, bytesField(field, body)]))
)

// ---------------------------------------------------------------------------------------------

/** decodeChatFrame's contract: a frame that re-encodes to exactly the input, or ChatProtocolError. */
function checkDecode (bytes: Uint8Array, asList: boolean): 'accepted' | string {
  let frame: DecodedChatFrame
  try {
    frame = decodeChatFrame(asList ? new Uint8ArrayList(bytes.subarray(0, bytes.length >> 1), bytes.subarray(bytes.length >> 1)) : bytes)
  } catch (err) {
    if (!(err instanceof ChatProtocolError)) throw new Error(`decodeChatFrame threw ${(err as Error)?.name}: ${(err as Error)?.message}`)
    if (!REASONS.includes(err.reason)) throw new Error(`unknown reason ${err.reason}`)
    return err.reason
  }
  const again = encodeChatFrame(frame)
  if (!equals(again, bytes)) throw new Error(`accepted a frame that re-encodes differently: ${JSON.stringify({ ...frame, id: [...frame.id], sequence: frame.sequence.toString() })}`)
  if (frame.id.byteLength !== MESSAGE_ID_BYTES || frame.sequence < 1n) throw new Error('accepted a frame with a bad id or sequence')
  if (frame.kind === 'message') {
    // Everything the service turns into a JS number must survive the conversion.
    if (!Number.isSafeInteger(frame.sentAt) || frame.sentAt < 1) throw new Error(`accepted sentAt ${frame.sentAt}`)
    expect(() => { checkChatText(frame.text) }).not.toThrow()
  }
  return 'accepted'
}

describe('decodeChatFrame under fuzzing', () => {
  it('decodes every valid frame back to itself', () => {
    fc.assert(fc.property(validFrame, fc.boolean(), (frame, asList) => {
      const bytes = encodeChatFrame(frame)
      expect(checkDecode(bytes, asList)).toBe('accepted')
      expect(decodeChatFrame(bytes)).toEqual(frame)
    }), runs(800))
  })

  it('answers arbitrary bytes with ChatProtocolError, or a frame that re-encodes to them', () => {
    const bytesArb = fc.oneof(
      { weight: 3, arbitrary: fc.uint8Array({ maxLength: 120 }) },
      { weight: 3, arbitrary: fc.array(fc.oneof(
        fc.tuple(fc.integer({ min: 1, max: 6 }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })).map(([field, value]) => varintField(field, value)),
        fc.tuple(fc.integer({ min: 1, max: 6 }), fc.uint8Array({ maxLength: 24 })).map(([field, body]) => bytesField(field, body))
      ), { maxLength: 8 }).map(parts => concat(parts)) },
      { weight: 1, arbitrary: fc.tuple(fc.integer({ min: -4, max: 4 }), fc.nat({ max: 255 })).map(([extra, fill]) => new Uint8Array(MAX_CHAT_FRAME_BYTES + extra).fill(fill)) }
    )
    const outcomes = new Map<string, number>()
    fc.assert(fc.property(bytesArb, fc.boolean(), (bytes, asList) => {
      const outcome = checkDecode(bytes, asList)
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1)
    }), runs(2000))
    for (const reason of ['malformed', 'oversized', 'unknown-fields']) expect(outcomes.get(reason) ?? 0, reason).toBeGreaterThan(0)
  })

  it('answers mutated valid frames with ChatProtocolError, or a frame that re-encodes to them', () => {
    const outcomes = new Map<string, number>()
    fc.assert(fc.property(validFrame, fc.array(mutation, { minLength: 1, maxLength: 3 }), fc.boolean(), (frame, changes, asList) => {
      let bytes = encodeChatFrame(frame)
      for (const change of changes) bytes = change(bytes)
      const outcome = checkDecode(bytes, asList)
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1)
    }), runs(2500))
    for (const reason of ['accepted', 'malformed', 'unknown-fields']) expect(outcomes.get(reason) ?? 0, reason).toBeGreaterThan(0)
  })
})

describe('decodeChatFrameLength under fuzzing', () => {
  it('decodes a prefix of at most 3 bytes, asks for more below that, and refuses a 4th byte', () => {
    const prefix = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 12 }),
      fc.nat({ max: 2 ** 21 - 1 }).map(value => varint(value)),
      fc.integer({ min: 1, max: 12 }).map(count => new Uint8Array(count).fill(0xff))
    )
    const seen = new Map<string, number>()
    fc.assert(fc.property(prefix, (bytes) => {
      // lpStream calls the decoder after every byte: feed it the way lpStream does.
      for (let length = 1; length <= bytes.length; length++) {
        const view = bytes.subarray(0, length)
        const end = view.findIndex(byte => (byte & 0x80) === 0)
        let outcome: string
        try {
          const value = decodeChatFrameLength(new Uint8ArrayList(...[...view].map(byte => Uint8Array.of(byte))))
          expect(end).toBeGreaterThanOrEqual(0)
          expect(end).toBeLessThan(3)
          expect(BigInt(value)).toBe(readVarint(view, 0)![0])
          outcome = 'length'
        } catch (err) {
          if (err instanceof RangeError) {
            expect(end).toBe(-1)
            expect(length).toBeLessThanOrEqual(3)
            outcome = 'more'
          } else {
            expect(err).toBeInstanceOf(ChatProtocolError)
            expect(end === -1 || end >= 3).toBe(true)
            expect(length).toBeGreaterThan(3)
            outcome = 'refused'
          }
        }
        seen.set(outcome, (seen.get(outcome) ?? 0) + 1)
        if (outcome !== 'more') break // lpStream stops reading the prefix here
      }
    }), runs(1500))
    for (const outcome of ['length', 'more', 'refused']) expect(seen.get(outcome) ?? 0, outcome).toBeGreaterThan(0)
  })
})

// ---------------------------------------------------------------------------------------------

/** An independent oracle: UTF-16 well-formedness, blankness and UTF-8 length by code point. */
function expected (text: string): 'ok' | 'InvalidMessageTextError' | 'MessageTooLongError' {
  let utf8 = 0
  let wellFormed = true
  for (let index = 0; index < text.length; index++) {
    const unit = text.charCodeAt(index)
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = text.charCodeAt(index + 1)
      if (next >= 0xdc00 && next <= 0xdfff) {
        utf8 += 4
        index++
        continue
      }
      wellFormed = false
      utf8 += 3 // encoded as U+FFFD
    } else if (unit >= 0xdc00 && unit <= 0xdfff) {
      wellFormed = false
      utf8 += 3
    } else {
      utf8 += unit < 0x80 ? 1 : unit < 0x800 ? 2 : 3
    }
  }
  if (/^\s*$/.test(text)) return 'InvalidMessageTextError'
  if (utf8 > MAX_CHAT_TEXT_BYTES) return 'MessageTooLongError'
  if (!wellFormed) return 'InvalidMessageTextError'
  return 'ok'
}

function actual (text: string): 'ok' | string {
  try {
    checkChatText(text)
    return 'ok'
  } catch (err) {
    if (!(err instanceof InvalidMessageTextError) && !(err instanceof MessageTooLongError)) throw new Error(`checkChatText threw ${(err as Error)?.name}`)
    return err.name
  }
}

describe('checkChatText under fuzzing', () => {
  const codeUnit = fc.integer({ min: 0, max: 0xffff }).map(unit => String.fromCharCode(unit))
  const surrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map(unit => String.fromCharCode(unit))
  const whitespace = fc.constantFrom(' ', '\t', '\n', '\r', '\v', '\f', '\u00a0', '\u1680', '\u2000', '\u200a', '\u2028', '\u2029', '\u202f', '\u205f', '\u3000', '\ufeff')
  const text = fc.oneof(
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.string({ unit: codeUnit, maxLength: 40 }),
    fc.string({ unit: fc.oneof(whitespace, surrogate, fc.constant('a')), maxLength: 12 }),
    fc.string({ unit: whitespace, maxLength: 12 }),
    // Around the 16 KiB limit, with 1- to 4-byte characters and a possible broken tail.
    fc.tuple(fc.constantFrom('a', 'é', '€', '🐱'), fc.integer({ min: -6, max: 6 }), fc.option(fc.oneof(surrogate, whitespace, fc.constantFrom('b', 'ü', '😀')))).map(([char, delta, tail]) => {
      const bytesPerChar = new TextEncoder().encode(char).byteLength
      return char.repeat(Math.max(0, Math.floor(MAX_CHAT_TEXT_BYTES / bytesPerChar) + delta)) + (tail ?? '')
    })
  )

  it('accepts exactly the non-blank, well-formed texts of at most 16 KiB of UTF-8', () => {
    const seen = new Map<string, number>()
    fc.assert(fc.property(text, (input) => {
      const outcome = actual(input)
      expect(outcome).toBe(expected(input))
      seen.set(outcome, (seen.get(outcome) ?? 0) + 1)
    }), runs(2500))
    for (const outcome of ['ok', 'InvalidMessageTextError', 'MessageTooLongError']) expect(seen.get(outcome) ?? 0, outcome).toBeGreaterThan(0)
  })

  it('agrees with a UTF-8 round trip on every accepted text', () => {
    fc.assert(fc.property(text, (input) => {
      if (actual(input) !== 'ok') return
      const bytes = fromString(input)
      expect(new TextDecoder('utf-8', { fatal: true }).decode(bytes)).toBe(input)
      expect(bytes.byteLength).toBeLessThanOrEqual(MAX_CHAT_TEXT_BYTES)
    }), runs(1000))
  })
})
