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
