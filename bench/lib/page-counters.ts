/**
 * Counts what a DHT operation costs inside a tab: the RTCDataChannels and RTCPeerConnections the
 * page opens, and the libp2p streams its node opens, by protocol. Nothing is faked: the
 * counters wrap Chromium's and libp2p's own objects.
 *
 * - `installPageCounters` runs before the app's modules load (`context.addInitScript`): it
 *   replaces `window.RTCPeerConnection` with a subclass (as e2e/soak/rtc-counter.ts does, so
 *   @libp2p/webrtc captures it) whose `createDataChannel` counts the channels this page opens and
 *   whose `datachannel` events count the ones the remote opens.
 * - `watchNode(node, dhtProtocol)` (call it once the tab is connected) wraps `newStream` of every
 *   connection, present and future (`connection:open`): libp2p 3's `newStream` is an own property
 *   of each connection, the one kad-dht's `connectionManager.openStream` calls. libp2p's own
 *   `node.use()` middleware is not used: libp2p 3.3 pushes each inbound stream's handler onto
 *   the registered middleware array (`Connection.onIncomingStream`), so handlers pile up across
 *   streams (js-libp2p PR #3534, open, fixes it).
 *
 * Read with `mark()` before an operation and `since(mark)` after it, in the same page function.
 */
import type { Connection, Libp2p, Stream } from '@libp2p/interface'

/** Counts at one moment; `since` subtracts two of them. */
export interface CounterMark {
  peerConnections: number
  /** `createDataChannel` calls in this page (any protocol, incl. @libp2p/webrtc's signalling `init` channel). */
  dataChannelsCreated: number
  /** `datachannel` events: channels the remote peer opened. */
  dataChannelsReceived: number
  /** Outbound libp2p streams opened (`newStream` resolved), any protocol. */
  streams: number
  /** Of those, for the DHT protocol. */
  dhtStreams: number
  /** DHT streams on a WebRTC connection: each is its own RTCDataChannel. */
  dhtDataChannels: number
  /** `newStream` calls for the DHT protocol that threw. */
  dhtStreamFailures: number
  /** DHT streams (opened here, any time) that ended with a local error: aborted, e.g. a request given up. */
  dhtStreamsAborted: number
  /** DHT streams (opened here, any time) that the remote reset. */
  dhtStreamsReset: number
  /** Entries in `dhtStreamOpenMs` so far. */
  dhtOpenTimes: number
  /** Outbound streams opened per protocol; `<protocols> (failed: <error>)` for newStream calls that threw. */
  byProtocol: Record<string, number>
}

export interface CounterDelta extends Omit<CounterMark, 'dhtOpenTimes' | 'byProtocol'> {
  /** Outbound streams opened per protocol, only those with at least one. */
  byProtocol: Record<string, number>
  /** How long each DHT `newStream` of the interval took (open the stream or data channel, multistream-select round trip, peer-store merge), in ms. */
  dhtStreamOpenMs: number[]
}

/** How the DHT streams this page opened ended, keyed `relay|tab: closed|<error name> (local|remote)`. */
export type StreamEnds = Record<string, number>

export interface PageCounters {
  mark(): CounterMark
  since(mark: CounterMark): CounterDelta
  /** Wraps `newStream` of the node's connections (idempotent per connection). */
  watchNode(node: Libp2p, dhtProtocol: string, relayPeerId: string): void
  streamEnds(): StreamEnds
}

declare global {
  interface Window { __webkadBenchCounters?: PageCounters }
}

/**
 * Runs in the page before anything else: it must be self-contained, as Playwright sends its
 * source text (`context.addInitScript(installPageCounters)`).
 */
export function installPageCounters (): void {
  if (window.__webkadBenchCounters != null) return
  const counts = {
    peerConnections: 0,
    dataChannelsCreated: 0,
    dataChannelsReceived: 0,
    streams: 0,
    dhtStreams: 0,
    dhtDataChannels: 0,
    dhtStreamFailures: 0,
    dhtStreamsAborted: 0,
    dhtStreamsReset: 0
  }
  const dhtStreamOpenMs: number[] = []
  const byProtocol: Record<string, number> = {}
  const ends: Record<string, number> = {}
  const Native = window.RTCPeerConnection as typeof RTCPeerConnection | undefined
  if (Native != null) {
    // A subclass, not a Proxy: `instanceof`, static methods and the prototype chain stay Chromium's.
    class CountedRTCPeerConnection extends Native {
      constructor (configuration?: RTCConfiguration) {
        super(configuration)
        counts.peerConnections++
        // @libp2p/webrtc sets `ondatachannel`; a listener sees the same events without replacing it.
        this.addEventListener('datachannel', () => { counts.dataChannelsReceived++ })
      }

      override createDataChannel (label: string, init?: RTCDataChannelInit): RTCDataChannel {
        counts.dataChannelsCreated++
        return super.createDataChannel(label, init)
      }
    }
    Object.defineProperty(window, 'RTCPeerConnection', { value: CountedRTCPeerConnection, writable: true, configurable: true })
  }

  const watched = new WeakSet<Connection>()
  const watchedNodes = new WeakSet<Libp2p>()
  const watchConnection = (connection: Connection, dhtProtocol: string, relayPeerId: string): void => {
    if (watched.has(connection)) return
    watched.add(connection)
    const original = connection.newStream
    const onWebRTC = connection.remoteAddr.toString().includes('/webrtc')
    const remote = connection.remotePeer.toString() === relayPeerId ? 'relay' : 'tab'
    connection.newStream = async (protocols, options) => {
      const asked = Array.isArray(protocols) ? protocols : [protocols]
      const isDht = asked.includes(dhtProtocol)
      const startedAt = performance.now()
      let stream: Stream
      try {
        stream = await original.call(connection, protocols, options)
      } catch (err) {
        if (isDht) counts.dhtStreamFailures++
        const key = `${asked.join('|')} (failed: ${(err as Error).name})`
        byProtocol[key] = (byProtocol[key] ?? 0) + 1
        throw err
      }
      counts.streams++
      byProtocol[stream.protocol] = (byProtocol[stream.protocol] ?? 0) + 1
      if (isDht) {
        counts.dhtStreams++
        if (onWebRTC) counts.dhtDataChannels++
        dhtStreamOpenMs.push(performance.now() - startedAt)
        stream.addEventListener('close', (event) => {
          const key = `${remote}: ${event.error == null ? 'closed' : event.error.name} (${event.local === true ? 'local' : 'remote'})`
          if (event.error != null && event.local === true) counts.dhtStreamsAborted++
          if (event.error != null && event.local !== true) counts.dhtStreamsReset++
          ends[key] = (ends[key] ?? 0) + 1
        }, { once: true })
      }
      return stream
    }
  }

  window.__webkadBenchCounters = {
    mark: () => ({ ...counts, dhtOpenTimes: dhtStreamOpenMs.length, byProtocol: { ...byProtocol } }),
    since: (mark) => ({
      peerConnections: counts.peerConnections - mark.peerConnections,
      dataChannelsCreated: counts.dataChannelsCreated - mark.dataChannelsCreated,
      dataChannelsReceived: counts.dataChannelsReceived - mark.dataChannelsReceived,
      streams: counts.streams - mark.streams,
      dhtStreams: counts.dhtStreams - mark.dhtStreams,
      dhtDataChannels: counts.dhtDataChannels - mark.dhtDataChannels,
      dhtStreamFailures: counts.dhtStreamFailures - mark.dhtStreamFailures,
      dhtStreamsAborted: counts.dhtStreamsAborted - mark.dhtStreamsAborted,
      dhtStreamsReset: counts.dhtStreamsReset - mark.dhtStreamsReset,
      dhtStreamOpenMs: dhtStreamOpenMs.slice(mark.dhtOpenTimes),
      byProtocol: Object.fromEntries(Object.entries(byProtocol).map(([protocol, count]) => [protocol, count - (mark.byProtocol[protocol] ?? 0)]).filter(([, count]) => (count as number) > 0))
    }),
    watchNode (node, dhtProtocol, relayPeerId) {
      if (!watchedNodes.has(node)) {
        watchedNodes.add(node)
        // Registered first, so no connection opened meanwhile is missed.
        node.addEventListener('connection:open', (event) => { watchConnection(event.detail, dhtProtocol, relayPeerId) })
      }
      for (const connection of node.getConnections()) watchConnection(connection, dhtProtocol, relayPeerId)
    },
    streamEnds: () => ({ ...ends })
  }
}
