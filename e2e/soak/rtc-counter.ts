/**
 * Counts a tab's real RTCPeerConnections: an init script replaces `window.RTCPeerConnection`
 * with a subclass (before the app's modules load, so @libp2p/webrtc captures it) that notes
 * every construction and every close: `close()` called, or `connectionState` reaching
 * `closed`. Nothing is faked; the objects are Chromium's own.
 */
import type { Page } from 'playwright-core'

/** What the page keeps, on `window.__webkadRtc`. */
export interface RtcCounter {
  created: number
  closed: number
  /** The connections not closed yet: `connectionState` of each (for diagnosing a leak). */
  openStates(): string[]
}

declare global {
  interface Window { __webkadRtc?: RtcCounter }
}

/**
 * Runs in the page before anything else (`context.addInitScript(installRtcCounter)`): it must
 * be self-contained, as Playwright sends its source text.
 */
export function installRtcCounter (): void {
  const Native = window.RTCPeerConnection as typeof RTCPeerConnection | undefined
  if (Native == null || window.__webkadRtc != null) return
  const open = new Set<RTCPeerConnection>()
  const counter = {
    created: 0,
    closed: 0,
    openStates: () => [...open].map(connection => connection.connectionState)
  }
  const markClosed = (connection: RTCPeerConnection): void => {
    if (open.delete(connection)) counter.closed++
  }
  // A subclass, not a Proxy: `instanceof`, static methods and the prototype chain stay Chromium's.
  class CountedRTCPeerConnection extends Native {
    constructor (configuration?: RTCConfiguration) {
      super(configuration)
      counter.created++
      open.add(this)
      // close() sets the state without an event; a failed transport can still reach 'closed'.
      this.addEventListener('connectionstatechange', () => {
        if (this.connectionState === 'closed') markClosed(this)
      })
    }

    override close (): void {
      super.close()
      markClosed(this)
    }
  }
  Object.defineProperty(window, 'RTCPeerConnection', { value: CountedRTCPeerConnection, writable: true, configurable: true })
  window.__webkadRtc = counter
}

/** One reading of a tab: its RTCPeerConnections and the libp2p connections they should back. */
export interface RtcReading {
  created: number
  closed: number
  /** created − closed */
  open: number
  /** connectionState of each open RTCPeerConnection. */
  openStates: string[]
  /** libp2p connections over WebRTC the node holds (remote address contains /webrtc). */
  webrtcConnections: number
  /** Distinct peers those connections go to. */
  webrtcPeers: number
}

export async function readRtc (page: Page): Promise<RtcReading> {
  return await page.evaluate(() => {
    const counter = window.__webkadRtc
    if (counter == null) throw new Error('the RTCPeerConnection counter is not installed (installRtcCounter)')
    const webrtc = (window.webkad?.node?.getConnections() ?? []).filter(connection => connection.remoteAddr.toString().includes('/webrtc'))
    return {
      created: counter.created,
      closed: counter.closed,
      open: counter.created - counter.closed,
      openStates: counter.openStates(),
      webrtcConnections: webrtc.length,
      webrtcPeers: new Set(webrtc.map(connection => connection.remotePeer.toString())).size
    }
  })
}
