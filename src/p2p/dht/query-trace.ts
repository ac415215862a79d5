import { fromString } from 'uint8arrays'
import { kadIdOfPeer, xorDistance, compactDistance, distanceLog2, toHex, compareDistances } from './kad-math.ts'
import { createCoalescedStore } from '../stores/store.ts'
import type { ReadableStore } from '../stores/store.ts'
import type { DhtProgressEvent, DhtQueryEnd, DhtQueryStart, QueryOperation } from './dht-progress.ts'
import type { QueryEvent } from '@libp2p/kad-dht'
import type { PeerId } from '@libp2p/interface'

export type { QueryOperation }

/** A peer as seen from the query's target: its XOR distance, exact (hex) and compact. */
export interface TracePeer {
  peer: string
  distanceHex: string
  distance: string
  /** log2 of the distance (0-256), for drawing. */
  distanceLog2: number
}

/** One kad-dht query event, made serialisable; `path` is the disjoint path (-1: local work). */
export type TraceEvent =
  | { kind: 'send-query', at: number, path: number, to: TracePeer, message: string }
  | { kind: 'peer-response', at: number, path: number, from: TracePeer, message: string, closer: TracePeer[], hasRecord: boolean }
  | { kind: 'final-peer', at: number, path: number, from: string, peer: TracePeer }
  | { kind: 'query-error', at: number, path: number, from: TracePeer, error: string }
  | { kind: 'value', at: number, path: number, from: TracePeer }
  | { kind: 'add-peer', at: number, path: number, peer: TracePeer }
  | { kind: 'dial-peer', at: number, path: number, peer: TracePeer }
  | { kind: 'path-ended', at: number, path: number }
  | { kind: 'provider', at: number, path: number, from: TracePeer }
  | { kind: 'waiting-for-peer', at: number, path: number }

export type QueryStatus = 'running' | 'done' | 'failed' | 'cancelled'

export interface QueryTrace {
  id: string
  operation: QueryOperation
  /** What was looked up, as the user typed it (record key or peer ID). */
  label: string
  /** Started by the user, or by the scheduler in the background. */
  origin: 'user' | 'scheduler'
  targetKadId: string
  startedAt: number
  status: QueryStatus
  durationMs?: number
  /** Requests sent to other peers (one per SEND_QUERY). */
  messagesSent: number
  events: readonly TraceEvent[]
  /** The closest peers the query ended with, nearest first. */
  finalPeers: readonly TracePeer[]
  /** A one-line summary of the outcome or the error. */
  summary?: string
}

const MAX_QUERIES = 20
const MAX_EVENTS_PER_QUERY = 2000

/** One query being traced: its events so far and how to describe a peer from its target. */
interface LiveQuery {
  trace: QueryTrace
  events: TraceEvent[]
  finalPeers: Map<string, TracePeer>
  /** performance.now() at the start: event times are ms since then. */
  started: number
  tracePeer(peerId: PeerId): TracePeer
}

/**
 * The last queries this tab ran, each with its trace, drawn from the DHT operations' progress
 * events. Events arrive in bursts, so store updates are coalesced (one per 50 ms).
 */
export class QueryLog {
  private readonly traces = new Map<string, QueryTrace>()
  private readonly store = createCoalescedStore<readonly QueryTrace[]>(() => this.newestFirst())

  get queries (): ReadableStore<readonly QueryTrace[]> { return this.store }

  /**
   * An `onProgress` for one DHT operation: its queries start, collect kad-dht's events and end
   * in this log. Each operation needs its own, as kad-dht's events carry no query id.
   */
  progressHandler (): (event: DhtProgressEvent) => void {
    let current: LiveQuery | undefined
    return (progress) => {
      if (progress.type === 'webkad:dht:query-start') {
        current = this.begin(progress.detail)
      } else if (progress.type === 'webkad:dht:query-end') {
        if (current?.trace.id === progress.detail.queryId) this.end(current, progress.detail)
        current = undefined
      } else if (progress.type === 'webkad:dht:waiting-for-peer') {
        if (current != null) this.record(current, { kind: 'waiting-for-peer', at: performance.now() - current.started, path: -1 })
      } else if (current != null) {
        const converted = convertEvent(progress.detail, performance.now() - current.started, current.tracePeer)
        if (converted != null) this.record(current, converted)
      }
    }
  }

  clear (): void {
    this.traces.clear()
    this.store.flush()
  }

  private begin (start: DhtQueryStart): LiveQuery {
    const peerCache = new Map<string, TracePeer>()
    const live: LiveQuery = {
      trace: {
        id: start.queryId,
        operation: start.operation,
        label: start.label,
        origin: start.origin,
        targetKadId: toHex(start.targetKadId),
        startedAt: Date.now(),
        status: 'running',
        messagesSent: 0,
        events: [],
        finalPeers: []
      },
      events: [],
      finalPeers: new Map(),
      started: performance.now(),
      tracePeer: (peerId) => {
        const key = peerId.toString()
        let cached = peerCache.get(key)
        if (cached == null) {
          const distance = xorDistance(kadIdOfPeer(peerId), start.targetKadId)
          cached = { peer: key, distanceHex: toHex(distance), distance: compactDistance(distance), distanceLog2: distanceLog2(distance) }
          peerCache.set(key, cached)
        }
        return cached
      }
    }
    this.commit(live, {})
    return live
  }

  private record (live: LiveQuery, converted: TraceEvent): void {
    if (live.events.length >= MAX_EVENTS_PER_QUERY) return
    live.events.push(converted)
    if (converted.kind === 'final-peer') live.finalPeers.set(converted.peer.peer, converted.peer)
    this.commit(live, { messagesSent: live.trace.messagesSent + (converted.kind === 'send-query' ? 1 : 0) })
  }

  private end (live: LiveQuery, end: DhtQueryEnd): void {
    this.commit(live, { status: end.status, durationMs: end.durationMs, summary: end.summary })
    this.store.flush()
  }

  private commit (live: LiveQuery, change: Partial<QueryTrace>): void {
    live.trace = { ...live.trace, ...change, events: [...live.events], finalPeers: sortByDistance([...live.finalPeers.values()]) }
    this.traces.set(live.trace.id, live.trace)
    this.store.invalidate()
  }

  private newestFirst (): readonly QueryTrace[] {
    // Ids are `q<counter>-…`: compare numerically, or q9 would sort above q10 within one millisecond.
    const sorted = [...this.traces.values()].sort((a, b) => b.startedAt - a.startedAt || b.id.localeCompare(a.id, 'en', { numeric: true }))
    for (const dropped of sorted.slice(MAX_QUERIES)) this.traces.delete(dropped.id)
    return sorted.slice(0, MAX_QUERIES)
  }
}

function sortByDistance (peers: TracePeer[]): TracePeer[] {
  return peers.sort((a, b) => compareDistances(fromString(a.distanceHex, 'base16'), fromString(b.distanceHex, 'base16')))
}

/** Converts a kad-dht event into a trace event; unknown kinds are dropped. */
export function convertEvent (event: QueryEvent, at: number, tracePeer: (peerId: PeerId) => TracePeer): TraceEvent | undefined {
  const path = event.path?.index ?? -1
  switch (event.name) {
    case 'SEND_QUERY': return { kind: 'send-query', at, path, to: tracePeer(event.to), message: event.messageName }
    case 'PEER_RESPONSE': return {
      kind: 'peer-response', at, path, from: tracePeer(event.from), message: event.messageName,
      closer: event.closer.map(info => tracePeer(info.id)), hasRecord: event.record != null
    }
    case 'FINAL_PEER': return { kind: 'final-peer', at, path, from: event.from.toString(), peer: tracePeer(event.peer.id) }
    case 'QUERY_ERROR': return { kind: 'query-error', at, path, from: tracePeer(event.from), error: event.error?.message ?? 'error' }
    case 'VALUE': return { kind: 'value', at, path, from: tracePeer(event.from) }
    case 'ADD_PEER': return { kind: 'add-peer', at, path, peer: tracePeer(event.peer) }
    case 'DIAL_PEER': return { kind: 'dial-peer', at, path, peer: tracePeer(event.peer) }
    case 'PATH_ENDED': return { kind: 'path-ended', at, path }
    case 'PROVIDER': return { kind: 'provider', at, path, from: tracePeer(event.from) }
    default: return undefined
  }
}
