import { equals, fromString } from 'uint8arrays'
import { ChatProtocolError, InvalidMessageTextError, MessageTooLongError } from '../../errors.ts'
import { ChatFrame } from './pb/chat.ts'
import type { Uint8ArrayList } from 'uint8arraylist'

export const CHAT_PROTOCOL = '/webkad/chat/1.0.0'
/** Longest chat text in UTF-8 bytes. */
export const MAX_CHAT_TEXT_BYTES = 16 * 1024
/** Largest encoded frame: the text plus id, numbers and tags. */
export const MAX_CHAT_FRAME_BYTES = MAX_CHAT_TEXT_BYTES + 64
export const MESSAGE_ID_BYTES = 16
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

export interface ChatMessageFrame { kind: 'message', id: Uint8Array, sequence: bigint, sentAt: number, text: string }
export interface ChatAckFrame { kind: 'ack', id: Uint8Array, sequence: bigint }
export type DecodedChatFrame = ChatMessageFrame | ChatAckFrame

/** Refuses text the protocol cannot carry, before anything is sent or stored. */
export function checkChatText (text: string): void {
  const bytes = fromString(text).byteLength
  if (text.trim() === '') throw new InvalidMessageTextError('The message is empty.')
  if (bytes > MAX_CHAT_TEXT_BYTES) {
    throw new MessageTooLongError(`The message is ${bytes} bytes long; the limit is ${MAX_CHAT_TEXT_BYTES} bytes (16 KiB).`)
  }
  if (LONE_SURROGATE.test(text)) {
    throw new InvalidMessageTextError('The message contains broken characters (unpaired surrogates).')
  }
}

/** Bytes of the longest length prefix a frame can need (the varint of MAX_CHAT_FRAME_BYTES). */
const MAX_LENGTH_PREFIX_BYTES = 3

/**
 * The frame-length decoder for lpStream. lpStream applies its length-of-length limit only once a
 * varint is complete, so a prefix of bytes that all carry the continuation bit (0xff 0xff …) was
 * buffered one byte at a time until the idle timeout, at ~100 bytes of heap per byte received.
 * This refuses a prefix as soon as it is longer than any frame needs.
 */
export function decodeChatFrameLength (data: Uint8ArrayList): number {
  let length = 0
  for (let index = 0; index < data.byteLength; index++) {
    if (index >= MAX_LENGTH_PREFIX_BYTES) throw new ChatProtocolError('the length prefix is longer than any frame needs', 'oversized')
    const byte = data.get(index)
    length += (byte & 0x7f) * 2 ** (7 * index)
    if ((byte & 0x80) === 0) return length
  }
  throw new RangeError('incomplete length prefix') // lpStream reads one more byte
}

export function encodeChatFrame (frame: DecodedChatFrame): Uint8Array {
  return ChatFrame.encode(frame.kind === 'message'
    ? { kind: ChatFrame.Kind.MESSAGE, id: frame.id as Uint8Array<ArrayBuffer>, sequence: frame.sequence, sentAt: BigInt(frame.sentAt), text: frame.text }
    : { kind: ChatFrame.Kind.ACK, id: frame.id as Uint8Array<ArrayBuffer>, sequence: frame.sequence, sentAt: 0n, text: '' })
}

/**
 * Decodes one frame strictly: the bytes must be exactly what webkad's encoder produces for the
 * decoded value, which refuses unknown fields, invalid UTF-8 and non-canonical encodings.
 */
export function decodeChatFrame (data: Uint8Array | Uint8ArrayList): DecodedChatFrame {
  const bytes = data instanceof Uint8Array ? data : data.subarray()
  if (bytes.byteLength > MAX_CHAT_FRAME_BYTES) throw new ChatProtocolError(`frame of ${bytes.byteLength} bytes exceeds ${MAX_CHAT_FRAME_BYTES}`, 'oversized')
  let frame: ChatFrame
  try {
    frame = ChatFrame.decode(bytes)
  } catch {
    throw new ChatProtocolError('frame is not a ChatFrame protobuf', 'malformed')
  }
  if (frame.kind !== ChatFrame.Kind.MESSAGE && frame.kind !== ChatFrame.Kind.ACK) throw new ChatProtocolError('unknown frame kind', 'malformed')
  if (!equals(ChatFrame.encode(frame), bytes)) throw new ChatProtocolError('frame has unknown fields or is not canonical', 'unknown-fields')
  if (frame.id.byteLength !== MESSAGE_ID_BYTES) throw new ChatProtocolError(`message id must be ${MESSAGE_ID_BYTES} bytes`, 'malformed')
  if (frame.sequence < 1n) throw new ChatProtocolError('sequence numbers start at 1', 'malformed')
  if (frame.kind === ChatFrame.Kind.ACK) {
    if (frame.text !== '' || frame.sentAt !== 0n) throw new ChatProtocolError('an ack carries no text or time', 'malformed')
    return { kind: 'ack', id: frame.id, sequence: frame.sequence }
  }
  if (fromString(frame.text).byteLength > MAX_CHAT_TEXT_BYTES) throw new ChatProtocolError('text exceeds 16 KiB', 'oversized')
  if (frame.text === '' || frame.sentAt === 0n) throw new ChatProtocolError('a message needs text and a time', 'malformed')
  // sentAt becomes a JS number: past 2^53 it would no longer be the value that was sent.
  if (frame.sentAt > BigInt(Number.MAX_SAFE_INTEGER)) throw new ChatProtocolError('sentAt is not a safe integer', 'malformed')
  // protons decodes an encoded lone surrogate (e.g. ED A0 80, invalid UTF-8) to itself and
  // re-encodes it identically, so the canonical check above lets it through.
  if (LONE_SURROGATE.test(frame.text)) throw new ChatProtocolError('text is not valid UTF-8', 'malformed')
  return { kind: 'message', id: frame.id, sequence: frame.sequence, sentAt: Number(frame.sentAt), text: frame.text }
}
