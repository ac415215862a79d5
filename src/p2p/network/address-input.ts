import { peerIdFromString } from '@libp2p/peer-id'
import { isPrivate } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { WebRTCDirect, WebSockets, WebSocketsSecure } from '@multiformats/multiaddr-matcher'
import { InvalidMultiaddrError, InvalidPeerIdError, SelfPeerError } from '../errors.ts'
import type { PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** Longest bootnode text accepted: several multiaddrs, far below anything pasted by mistake. */
export const MAX_BOOTNODE_INPUT_CHARS = 4096

/**
 * Parses the bootnode field: one or more multiaddrs separated by spaces, commas or new lines.
 * Each must be a WebSocket address (ws or wss) or a WebRTC-Direct address with its certificate
 * hash (for https pages: no domain or CA certificate), ending in the relay's /p2p/<peer ID>.
 */
export function parseBootnodes (text: string): Multiaddr[] {
  if (text.length > MAX_BOOTNODE_INPUT_CHARS) {
    throw new InvalidMultiaddrError(`The bootnode text is ${text.length} characters long; paste one or a few multiaddrs (at most ${MAX_BOOTNODE_INPUT_CHARS} characters).`)
  }
  const parts = text.split(/[\s,]+/).filter(part => part !== '')
  if (parts.length === 0) throw new InvalidMultiaddrError('Enter the relay\'s multiaddr, e.g. /ip4/127.0.0.1/tcp/9090/ws/p2p/12D3Koo…')
  return parts.map(parseBootnode)
}

function parseBootnode (text: string): Multiaddr {
  let address: Multiaddr
  try {
    if (!text.startsWith('/')) throw new Error('no leading slash')
    address = multiaddr(text)
  } catch {
    throw new InvalidMultiaddrError(`"${abbreviate(text)}" is not a multiaddr (expected something like /ip4/127.0.0.1/tcp/9090/ws/p2p/12D3Koo…).`)
  }
  const components = address.getComponents()
  if (components.some(component => component.name === 'webrtc-direct')) {
    checkWebRTCDirect(address, text)
  } else if (!WebSockets.matches(address) && !WebSocketsSecure.matches(address)) {
    throw new InvalidMultiaddrError(`"${abbreviate(text)}" is not a WebSocket or WebRTC-Direct address: a browser reaches the relay over /ws, /wss or /udp/…/webrtc-direct/certhash/….`)
  }
  if (address.getComponents().some(component => component.name === 'p2p-circuit')) {
    throw new InvalidMultiaddrError(`"${abbreviate(text)}" is a relayed address of a tab, not a relay: use the multiaddr the relay prints.`)
  }
  const last = address.getComponents().at(-1)
  if (last?.name !== 'p2p') {
    throw new InvalidMultiaddrError(`"${abbreviate(text)}" has no /p2p/<peer ID> at the end: copy the full multiaddr the relay prints.`)
  }
  // multiaddr() accepts any base58 text after /p2p/; libp2p would only fail on it when dialling.
  try {
    peerIdFromString(last.value ?? '')
  } catch {
    throw new InvalidMultiaddrError(`"${abbreviate(text)}" does not end in a valid peer ID: copy the full multiaddr the relay prints.`)
  }
  return address
}

/** Raw SHA-256 multihash bytes: 0x12, 0x20, then 32 bytes; the certhash is its multibase text. */
const SHA256_MULTIHASH_BYTES = 34

/** A WebRTC-Direct bootnode needs its certificate hash: the browser checks the relay's certificate against it. */
function checkWebRTCDirect (address: Multiaddr, text: string): void {
  const certhashes = address.getComponents().filter(component => component.name === 'certhash')
  if (certhashes.length === 0) {
    throw new InvalidMultiaddrError(`"${abbreviate(text)}" has no /certhash/…: a WebRTC-Direct address needs the certificate hash the relay prints.`)
  }
  for (const { value } of certhashes) {
    // base64url multibase ('u') of a sha2-256 multihash, as libp2p prints it.
    if (value == null || !/^u[A-Za-z0-9_-]+$/.test(value) || !isSha256Multihash(value.slice(1))) {
      throw new InvalidMultiaddrError(`"${abbreviate(text)}" has a malformed certhash: copy the full WebRTC-Direct multiaddr the relay prints.`)
    }
  }
  if (!WebRTCDirect.matches(address)) {
    throw new InvalidMultiaddrError(`"${abbreviate(text)}" is not a WebRTC-Direct address: expected /ip4/<ip>/udp/<port>/webrtc-direct/certhash/…/p2p/<peer ID>.`)
  }
}

function isSha256Multihash (base64url: string): boolean {
  if (base64url.length > 64) return false
  let bytes: string
  try {
    bytes = atob(base64url.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - base64url.length % 4) % 4))
  } catch {
    return false
  }
  return bytes.length === SHA256_MULTIHASH_BYTES && bytes.charCodeAt(0) === 0x12 && bytes.charCodeAt(1) === 0x20
}

/** True when the address points at loopback or a private network (LAN). */
export function isLocalAddress (address: Multiaddr): boolean {
  return isPrivate(address)
}

/**
 * Longest peer ID text accepted. Key-based peer IDs are under 100 characters in any encoding;
 * base58 decoding takes quadratic time, so a pasted page of text would freeze the tab.
 */
export const MAX_PEER_ID_INPUT_CHARS = 256

/** Parses a pasted peer ID; refuses garbage, CIDs and this node's own ID with clear messages. */
export function parsePeerIdInput (text: string, self?: PeerId): PeerId {
  const trimmed = text.trim()
  if (trimmed === '') throw new InvalidPeerIdError('Enter a peer ID (it starts with 12D3Koo… or Qm…).')
  if (trimmed.length > MAX_PEER_ID_INPUT_CHARS) {
    throw new InvalidPeerIdError(`"${abbreviate(trimmed)}" is ${trimmed.length} characters long; a peer ID has at most ${MAX_PEER_ID_INPUT_CHARS}.`)
  }
  let peerId: PeerId
  try {
    peerId = peerIdFromString(trimmed)
  } catch {
    throw new InvalidPeerIdError(`"${abbreviate(trimmed)}" is not a peer ID.`)
  }
  if (self != null && peerId.equals(self)) throw new SelfPeerError('That is this tab\'s own peer ID.')
  return peerId
}

function abbreviate (text: string): string {
  return text.length > 60 ? `${text.slice(0, 57)}…` : text
}
