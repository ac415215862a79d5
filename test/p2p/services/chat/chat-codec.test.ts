import { Uint8ArrayList } from 'uint8arraylist'
import { equals, fromString } from 'uint8arrays'
import { describe, expect, it } from 'vitest'
import { varint } from '../../../helpers/varint.ts'
import {
  CHAT_PROTOCOL,
  MAX_CHAT_FRAME_BYTES,
  MAX_CHAT_TEXT_BYTES,
  MESSAGE_ID_BYTES,
  checkChatText,
  decodeChatFrame,
  encodeChatFrame
} from '../../../../src/p2p/services/chat/chat-codec.ts'
import { ChatFrame } from '../../../../src/p2p/services/chat/pb/chat.ts'
import type { DecodedChatFrame } from '../../../../src/p2p/services/chat/chat-codec.ts'

const ID = Uint8Array.from({ length: MESSAGE_ID_BYTES }, (_, index) => index + 1)
const SENT_AT = 1_750_000_000_123

// ---------------------------------------------------------------------------------------------
// hand-built protobuf, so frames the encoder would never produce can be fed to the decoder


const tag = (field: number, wireType: number): number[] => [...varint((field << 3) | wireType)]
const varintField = (field: number, value: number | bigint): number[] => [...tag(field, 0), ...varint(value)]
const bytesField = (field: number, bytes: Uint8Array | number[]): number[] => [...tag(field, 2), ...varint(bytes.length), ...bytes]

const KIND = 1
const IDF = 2
const SEQUENCE = 3
const SENT = 4
const TEXT = 5

const frame = (...fields: number[][]): Uint8Array => Uint8Array.from(fields.flat())

/** The canonical bytes of a message frame, built by hand. */
const messageBytes = (text = 'hi', sequence = 1, sentAt = SENT_AT, id: Uint8Array = ID): number[][] =>
  [bytesField(IDF, id), varintField(SEQUENCE, sequence), varintField(SENT, sentAt), bytesField(TEXT, fromString(text))]
const ackBytes = (sequence = 1, id: Uint8Array = ID): number[][] =>
  [varintField(KIND, 1), bytesField(IDF, id), varintField(SEQUENCE, sequence)]

function decodeError (bytes: Uint8Array | Uint8ArrayList): Error & { reason?: string } {
  try {
    decodeChatFrame(bytes)
  } catch (err) {
    return err as Error & { reason?: string }
  }
  throw new Error('expected decodeChatFrame to throw')
}

function expectRejected (bytes: Uint8Array, reason: string): void {
  const err = decodeError(bytes)
  expect(err.name).toBe('ChatProtocolError')
  expect(err.reason).toBe(reason)
}

function textError (text: string): Error | undefined {
  try {
    checkChatText(text)
  } catch (err) {
    return err as Error
  }
  return undefined
}

// ---------------------------------------------------------------------------------------------

describe('constants', () => {
  it('speak /webkad/chat/1.0.0 with 16 KiB texts and 16-byte ids', () => {
    expect(CHAT_PROTOCOL).toBe('/webkad/chat/1.0.0')
    expect(MAX_CHAT_TEXT_BYTES).toBe(16 * 1024)
    expect(MESSAGE_ID_BYTES).toBe(16)
    expect(MAX_CHAT_FRAME_BYTES).toBeGreaterThan(MAX_CHAT_TEXT_BYTES)
  })
})

describe('encodeChatFrame / decodeChatFrame round trip', () => {
  it.each([
    ['short text', 'hello'],
    ['multi-byte text', 'héllo wörld — 你好 😀'],
    ['text with new lines and tabs', 'line 1\nline 2\tend'],
    ['the longest ASCII text', 'x'.repeat(MAX_CHAT_TEXT_BYTES)],
    ['the longest 4-byte text', '😀'.repeat(MAX_CHAT_TEXT_BYTES / 4)]
  ])('a message (%s)', (_label, text) => {
    const original: DecodedChatFrame = { kind: 'message', id: ID, sequence: 42n, sentAt: SENT_AT, text }
    const bytes = encodeChatFrame(original)
    expect(bytes.byteLength).toBeLessThanOrEqual(MAX_CHAT_FRAME_BYTES)
    const decoded = decodeChatFrame(bytes)
    expect(decoded).toEqual(original)
    expect(equals(encodeChatFrame(decoded), bytes)).toBe(true)
  })

  it('a message with large numbers', () => {
    const original: DecodedChatFrame = { kind: 'message', id: ID, sequence: 2n ** 63n, sentAt: Number.MAX_SAFE_INTEGER, text: 'x' }
    expect(decodeChatFrame(encodeChatFrame(original))).toEqual(original)
  })

  it('an ack', () => {
    const original: DecodedChatFrame = { kind: 'ack', id: ID, sequence: 7n }
    const bytes = encodeChatFrame(original)
    expect(decodeChatFrame(bytes)).toEqual(original)
  })

  it('encodes exactly the canonical protobuf built by hand', () => {
    expect(Array.from(encodeChatFrame({ kind: 'message', id: ID, sequence: 300n, sentAt: SENT_AT, text: 'hé' }))).toEqual(messageBytes('hé', 300).flat())
    expect(Array.from(encodeChatFrame({ kind: 'ack', id: ID, sequence: 300n }))).toEqual(ackBytes(300).flat())
  })

  it('decodes a frame that arrives as a Uint8ArrayList in several chunks', () => {
    const bytes = encodeChatFrame({ kind: 'message', id: ID, sequence: 3n, sentAt: SENT_AT, text: 'chunked' })
    const list = new Uint8ArrayList(bytes.subarray(0, 5), bytes.subarray(5, 20), bytes.subarray(20))
    expect(decodeChatFrame(list)).toEqual({ kind: 'message', id: ID, sequence: 3n, sentAt: SENT_AT, text: 'chunked' })
  })

  it('refuses an oversized Uint8ArrayList too', () => {
    const list = new Uint8ArrayList(new Uint8Array(MAX_CHAT_FRAME_BYTES), new Uint8Array(1))
    const err = decodeError(list)
    expect(err.name).toBe('ChatProtocolError')
    expect(err.reason).toBe('oversized')
  })
})

describe('checkChatText', () => {
  it('accepts ordinary text', () => {
    expect(textError('hello')).toBeUndefined()
    expect(textError('  padded  ')).toBeUndefined()
    expect(textError('😀')).toBeUndefined()
  })

  it.each([
    ['empty', ''],
    ['spaces', '   '],
    ['new lines and tabs', '\n\t \r\n'],
    ['no-break and ideographic spaces', '\u00a0\u3000']
  ])('refuses an empty message (%s)', (_label, text) => {
    expect(textError(text)?.name).toBe('InvalidMessageTextError')
  })

  it.each([
    ['ASCII', 'a'.repeat(MAX_CHAT_TEXT_BYTES)],
    ['2-byte characters', 'é'.repeat(MAX_CHAT_TEXT_BYTES / 2)],
    ['3-byte characters', `${'€'.repeat((MAX_CHAT_TEXT_BYTES - 1) / 3)}a`],
    ['4-byte characters', '😀'.repeat(MAX_CHAT_TEXT_BYTES / 4)]
  ])('accepts exactly 16 KiB of UTF-8 (%s)', (_label, text) => {
    expect(new TextEncoder().encode(text).byteLength).toBe(MAX_CHAT_TEXT_BYTES)
    expect(textError(text)).toBeUndefined()
  })

  it.each([
    ['ASCII', 'a'.repeat(MAX_CHAT_TEXT_BYTES + 1)],
    ['2-byte characters plus one', `${'é'.repeat(MAX_CHAT_TEXT_BYTES / 2)}a`],
    ['3-byte characters', '€'.repeat((MAX_CHAT_TEXT_BYTES + 2) / 3)],
    ['4-byte characters plus one', `${'😀'.repeat(MAX_CHAT_TEXT_BYTES / 4)}a`],
    // 8193 characters, but a character count would see it as well under the limit.
    ['fewer characters than bytes', `${'é'.repeat(MAX_CHAT_TEXT_BYTES / 2)}é`]
  ])('refuses one byte or more over 16 KiB (%s)', (_label, text) => {
    expect(new TextEncoder().encode(text).byteLength).toBeGreaterThan(MAX_CHAT_TEXT_BYTES)
    expect(textError(text)?.name).toBe('MessageTooLongError')
  })

  it.each([
    ['lone high surrogate', 'a\uD800b'],
    ['lone low surrogate', 'a\uDC00b'],
    ['high surrogate at the end', 'hello \uD83D'],
    ['low surrogate at the start', '\uDE00 hello'],
    ['reversed pair', '\uDE00\uD83D']
  ])('refuses broken characters (%s)', (_label, text) => {
    expect(textError(text)?.name).toBe('InvalidMessageTextError')
  })

  it('checks emptiness first, then length, then broken characters', () => {
    expect(textError(' '.repeat(MAX_CHAT_TEXT_BYTES + 1))?.name).toBe('InvalidMessageTextError')
    expect(textError(`${'a'.repeat(MAX_CHAT_TEXT_BYTES)}\uD800`)?.name).toBe('MessageTooLongError')
  })

  it('accepts every text that decodes back from a frame unchanged', () => {
    for (const text of ['a', 'é', '😀', '\u0000', 'x'.repeat(1000)]) {
      expect(textError(text)).toBeUndefined()
      const bytes = encodeChatFrame({ kind: 'message', id: ID, sequence: 1n, sentAt: SENT_AT, text })
      expect(decodeChatFrame(bytes)).toMatchObject({ text })
    }
  })
})

describe('decodeChatFrame rejections', () => {
  it('accepts the hand-built canonical frames (control)', () => {
    expect(decodeChatFrame(frame(...messageBytes()))).toEqual({ kind: 'message', id: ID, sequence: 1n, sentAt: SENT_AT, text: 'hi' })
    expect(decodeChatFrame(frame(...ackBytes()))).toEqual({ kind: 'ack', id: ID, sequence: 1n })
  })

  describe('oversized', () => {
    it('refuses a frame over MAX_CHAT_FRAME_BYTES before decoding it', () => {
      expectRejected(new Uint8Array(MAX_CHAT_FRAME_BYTES + 1), 'oversized')
      expectRejected(new Uint8Array(MAX_CHAT_FRAME_BYTES + 1).fill(0xff), 'oversized')
    })

    it('does not call a frame of exactly MAX_CHAT_FRAME_BYTES oversized by size alone', () => {
      expectRejected(new Uint8Array(MAX_CHAT_FRAME_BYTES).fill(0xff), 'malformed')
    })

    it('refuses a message whose text is over 16 KiB even though the frame fits', () => {
      const bytes = ChatFrame.encode({ kind: ChatFrame.Kind.MESSAGE, id: ID, sequence: 1n, sentAt: BigInt(SENT_AT), text: 'x'.repeat(MAX_CHAT_TEXT_BYTES + 1) })
      expect(bytes.byteLength).toBeLessThanOrEqual(MAX_CHAT_FRAME_BYTES)
      expectRejected(bytes, 'oversized')
    })
  })

  describe('malformed', () => {
    it.each([
      ['a length running past the end', [0x12, 0x10, 0x01]],
      ['a lone tag', [0x2a]],
      ['a varint cut off', [0x18, 0xff]],
      ['an unknown field with wire type 7', [0x7f, 0x00]],
      ['an unknown field with wire type 6', [0x7e, 0x00]],
      ['all 0xff', new Array<number>(40).fill(0xff)]
    ])('refuses bytes that are no ChatFrame (%s)', (_label, bytes) => {
      expectRejected(Uint8Array.from(bytes), 'malformed')
    })

    it('refuses an empty frame (no id)', () => {
      expectRejected(new Uint8Array(0), 'malformed')
    })

    it('refuses a message and an ack without an id', () => {
      expectRejected(frame(varintField(SEQUENCE, 1), varintField(SENT, SENT_AT), bytesField(TEXT, fromString('hi'))), 'malformed')
      expectRejected(frame(varintField(KIND, 1), varintField(SEQUENCE, 1)), 'malformed')
    })

    it.each([1, 15, 17, 32])('refuses a message id of %i bytes', (length) => {
      const id = new Uint8Array(length).fill(0xab)
      expectRejected(frame(...messageBytes('hi', 1, SENT_AT, id)), 'malformed')
      expectRejected(frame(...ackBytes(1, id)), 'malformed')
    })

    it('refuses sequence 0 in a message and in an ack', () => {
      expectRejected(frame(bytesField(IDF, ID), varintField(SENT, SENT_AT), bytesField(TEXT, fromString('hi'))), 'malformed')
      expectRejected(frame(varintField(KIND, 1), bytesField(IDF, ID)), 'malformed')
    })

    it('refuses an ack that carries text', () => {
      expectRejected(frame(...ackBytes(), bytesField(TEXT, fromString('sneaky'))), 'malformed')
    })

    it('refuses an ack that carries a time', () => {
      expectRejected(frame(varintField(KIND, 1), bytesField(IDF, ID), varintField(SEQUENCE, 1), varintField(SENT, SENT_AT)), 'malformed')
    })

    it('refuses a message without text', () => {
      expectRejected(frame(bytesField(IDF, ID), varintField(SEQUENCE, 1), varintField(SENT, SENT_AT)), 'malformed')
    })

    it('refuses a message without a time', () => {
      expectRejected(frame(bytesField(IDF, ID), varintField(SEQUENCE, 1), bytesField(TEXT, fromString('hi'))), 'malformed')
    })

    it.each([2, 3, 127, 2 ** 31 - 1])('refuses an unknown kind (%i)', (kind) => {
      expectRejected(frame(varintField(KIND, kind), bytesField(IDF, ID), varintField(SEQUENCE, 1)), 'malformed')
    })

    it('refuses a negative kind (int32 -1 as a 10-byte varint)', () => {
      expectRejected(frame([...tag(KIND, 0), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], bytesField(IDF, ID), varintField(SEQUENCE, 1)), 'malformed')
    })
  })

  describe('unknown-fields (not exactly what webkad encodes)', () => {
    it.each([
      ['a varint field 6', varintField(6, 1)],
      ['a bytes field 15', bytesField(15, [1, 2, 3])],
      ['an empty bytes field 99', bytesField(99, [])],
      ['a fixed64 field 7', [...tag(7, 1), 0, 0, 0, 0, 0, 0, 0, 0]],
      ['a fixed32 field 8', [...tag(8, 5), 0, 0, 0, 0]]
    ])('refuses a valid message with an extra field appended (%s)', (_label, extra) => {
      expectRejected(frame(...messageBytes(), extra), 'unknown-fields')
    })

    it('refuses a valid ack with an extra field appended', () => {
      expectRejected(frame(...ackBytes(), varintField(6, 1)), 'unknown-fields')
    })

    it('refuses a non-canonical varint (sequence 1 written as 0x81 0x00)', () => {
      expectRejected(frame(bytesField(IDF, ID), [...tag(SEQUENCE, 0), 0x81, 0x00], varintField(SENT, SENT_AT), bytesField(TEXT, fromString('hi'))), 'unknown-fields')
    })

    it('refuses a non-canonical length prefix (text length padded with 0x80)', () => {
      const text = fromString('hi')
      expectRejected(frame(bytesField(IDF, ID), varintField(SEQUENCE, 1), varintField(SENT, SENT_AT), [...tag(TEXT, 2), 0x82, 0x00, ...text]), 'unknown-fields')
    })

    it('refuses an empty id written out explicitly', () => {
      expectRejected(frame(bytesField(IDF, []), varintField(SEQUENCE, 1), varintField(SENT, SENT_AT), bytesField(TEXT, fromString('hi'))), 'unknown-fields')
    })

    it('refuses the default kind written out explicitly', () => {
      expectRejected(frame(varintField(KIND, 0), ...messageBytes()), 'unknown-fields')
    })

    it('refuses fields out of order', () => {
      const [id, sequence, sent, text] = messageBytes()
      expectRejected(frame(sequence ?? [], id ?? [], sent ?? [], text ?? []), 'unknown-fields')
    })

    it('refuses a field given twice', () => {
      expectRejected(frame(...messageBytes(), varintField(SENT, SENT_AT)), 'unknown-fields')
    })

    it.each([
      ['a lone continuation byte', [0x61, 0x80]],
      ['a truncated sequence', [0x61, 0xc3]],
      ['an overlong "/"', [0xc0, 0xaf]],
      ['a surrogate pair as two 3-byte sequences (CESU-8)', [0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80]],
      ['0xff', [0xff]]
    ])('refuses text bytes that are not UTF-8 (%s)', (_label, textBytes) => {
      const err = decodeError(frame(bytesField(IDF, ID), varintField(SEQUENCE, 1), varintField(SENT, SENT_AT), bytesField(TEXT, textBytes)))
      expect(err.name).toBe('ChatProtocolError')
      // The decoder turns invalid UTF-8 into U+FFFD, so the re-encoded bytes differ.
      expect(err.reason).toBe('unknown-fields')
    })

    it.each([
      ['a high surrogate', [0xed, 0xa0, 0x80]],
      ['a low surrogate', [0xed, 0xb0, 0x80]],
      ['a surrogate after valid text', [0x68, 0x69, 0xed, 0xa0, 0xbd]]
    ])('refuses text with an encoded lone surrogate (%s), which survives re-encoding', (_label, textBytes) => {
      // protons reads ED A0 80 as "\uD800" and writes it back as ED A0 80: the canonical check
      // cannot see it, so the decoder checks for lone surrogates itself.
      const bytes = frame(bytesField(IDF, ID), varintField(SEQUENCE, 1), varintField(SENT, SENT_AT), bytesField(TEXT, textBytes))
      expect(equals(ChatFrame.encode(ChatFrame.decode(bytes)), bytes)).toBe(true)
      expectRejected(bytes, 'malformed')
    })
  })
})
