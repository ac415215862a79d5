import type { OperationError } from '../hooks/use-operation.ts'
import type { ChatPath, DeliveryState } from '../../p2p/services/chat/index.ts'

export const PATH_TEXT: Record<ChatPath, string> = {
  webrtc: 'WebRTC direct',
  relayed: 'via relay',
  direct: 'direct'
}

export const DELIVERY_TEXT: Record<DeliveryState, string> = {
  sending: 'sending',
  delivered: 'delivered',
  retrying: 'failed — retrying'
}

/**
 * UTF-8 length without allocating: the composer counts on every keystroke, up to 16 KiB.
 * Lone surrogates count 3 bytes, as TextEncoder writes U+FFFD for them.
 */
export function utf8ByteLength (text: string): number {
  let bytes = 0
  for (let index = 0; index < text.length; index++) {
    const unit = text.charCodeAt(index)
    if (unit < 0x80) bytes += 1
    else if (unit < 0x800) bytes += 2
    else if (unit >= 0xd800 && unit <= 0xdbff && index + 1 < text.length && isLowSurrogate(text.charCodeAt(index + 1))) {
      bytes += 4
      index++
    } else bytes += 3
  }
  return bytes
}

function isLowSurrogate (unit: number): boolean {
  return unit >= 0xdc00 && unit <= 0xdfff
}

/** `14:05` today, `3 Mar 14:05` before. */
export function formatMessageTime (ms: number, now = Date.now()): string {
  const date = new Date(ms)
  const time = date.toLocaleTimeString([], { hour: 'numeric', minute: '2-digit' })
  return new Date(now).toDateString() === date.toDateString()
    ? time
    : `${date.toLocaleDateString([], { day: 'numeric', month: 'short' })} ${time}`
}

export function formatFullTime (ms: number): string {
  return new Date(ms).toLocaleString([], { dateStyle: 'medium', timeStyle: 'medium' })
}

/** First line of a message, short enough for the conversation list. */
export function previewText (text: string, limit = 80): string {
  const firstLine = text.trimStart().split('\n', 1)[0] ?? ''
  return firstLine.length > limit ? `${firstLine.slice(0, limit)}…` : firstLine
}

/** A thrown core error as the UI shows it (the core's errors carry `name` and maybe `reason`). */
export function toOperationError (err: unknown): OperationError {
  const error = err instanceof Error ? err : new Error(String(err))
  const reason = (error as { reason?: unknown }).reason
  return { name: error.name, message: error.message, reason: typeof reason === 'string' ? reason : undefined }
}
