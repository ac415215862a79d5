import type { PeerConnectionState } from '../../p2p/dht/routing-table-view.ts'

/** `a1b2 c3d4 …` for the first `limit` bytes: binary values stay readable without being dumped whole. */
export function hexPreview (bytes: Uint8Array, limit = 48): string {
  const shown = [...bytes.subarray(0, limit)].map(byte => byte.toString(16).padStart(2, '0'))
  const pairs: string[] = []
  for (let index = 0; index < shown.length; index += 2) pairs.push(shown.slice(index, index + 2).join(''))
  return pairs.join(' ') + (bytes.byteLength > limit ? ` … (${bytes.byteLength} bytes)` : '')
}

/** `3f9a2c…e01b`: a 256-bit Kademlia ID shortened like peer IDs are. */
export function shortKadId (hex: string): string {
  return hex.length <= 16 ? hex : `${hex.slice(0, 8)}…${hex.slice(-4)}`
}

/** First 32 bits of a hex Kademlia ID as a fraction of the ring, 0 ≤ f < 1. */
export function ringFraction (kadIdHex: string): number {
  return parseInt(kadIdHex.slice(0, 8).padEnd(8, '0'), 16) / 2 ** 32
}

/**
 * First 32 bits of a peer's Kademlia ID, recovered from its distance to a target:
 * id = distance XOR target, so traces need not carry the IDs themselves.
 */
export function kadPrefixFromDistance (distanceHex: string, targetKadIdHex: string): string {
  const prefix = (parseInt(distanceHex.slice(0, 8), 16) ^ parseInt(targetKadIdHex.slice(0, 8), 16)) >>> 0
  return prefix.toString(16).padStart(8, '0')
}

export const CONNECTION_TEXT: Record<PeerConnectionState, string> = {
  webrtc: 'WebRTC direct',
  websocket: 'WebSocket',
  relayed: 'Relayed',
  other: 'Other',
  none: 'Not connected'
}

/** JSON that survives bigints (as decimal strings) and byte arrays (as hex). */
export function toJson (value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => {
    if (typeof item === 'bigint') return item.toString()
    if (item instanceof Uint8Array) return [...item].map(byte => byte.toString(16).padStart(2, '0')).join('')
    return item
  }, 2)
}

/** Saves text as a file through a temporary object URL. */
export function downloadText (fileName: string, text: string, type = 'application/json'): void {
  const url = URL.createObjectURL(new Blob([text], { type }))
  const link = document.createElement('a')
  link.href = url
  link.download = fileName
  link.click()
  // Revoke later: some browsers start the download only after the click handler returns.
  setTimeout(() => { URL.revokeObjectURL(url) }, 10_000)
}
