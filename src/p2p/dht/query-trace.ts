import { fromString } from 'uint8arrays'
import { kadIdOfPeer, xorDistance, compactDistance, distanceLog2, toHex, compareDistances } from './kad-math.ts'
import { createStore } from '../stores/store.ts'
import type { ReadableStore } from '../stores/store.ts'
import type { QueryEvent } from '@libp2p/kad-dht'
import type { PeerId } from '@libp2p/interface'

export type QueryOperation = 'put' | 'get' | 'find-peer' | 'closest-peers'

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

/** Records one query's events into the shared log. */
export interface QueryRecorder {
  readonly id: string
  record(event: QueryEvent): void
  /** Marks the query done; returns its duration in ms. */
  finish(summary: string): number
  /** `signal`: the operation's signal; an abort by the caller is "cancelled", a deadline "failed". */
  fail(error: unknown, signal?: AbortSignal): void
}

const MAX_QUERIES = 20
const MAX_EVENTS_PER_QUERY = 2000

/**
 * The last queries this tab ran, each with its trace. Events arrive in bursts, so store
 * updates are coalesced (one per 50 ms) instead of one per event.
 */
export class QueryLog {
  private readonly store = createStore<readonly QueryTrace[]>([])
  private readonly live = new Map<string, QueryTrace>()
  private flushTimer?: ReturnType<typeof setTimeout>
  private counter = 0

  get queries (): ReadableStore<readonly QueryTrace[]> { return this.store }

  begin (operation: QueryOperation, label: string, targetKadId: Uint8Array, origin: QueryTrace['origin'] = 'user'): QueryRecorder {
    const id = `q${++this.counter}-${Date.now().toString(36)}`
    const startedAt = Date.now()
    const started = performance.now()
    const peerCache = new Map<string, TracePeer>()
    const tracePeer = (peerId: PeerId): TracePeer => {
      const key = peerId.toString()
      let cached = peerCache.get(key)
      if (cached == null) {
        const distance = xorDistance(kadIdOfPeer(peerId), targetKadId)
        cached = { peer: key, distanceHex: toHex(distance), distance: compactDistance(distance), distanceLog2: distanceLog2(distance) }
        peerCache.set(key, cached)
      }
      return cached
    }
    let trace: QueryTrace = {
      id, operation, label, origin, targetKadId: toHex(targetKadId), startedAt, status: 'running', messagesSent: 0, events: [], finalPeers: []
    }
    const events: TraceEvent[] = []
    const finalPeers = new Map<string, TracePeer>()
    const commit = (change: Partial<QueryTrace>): void => {
      trace = { ...trace, ...change, events: [...events], finalPeers: sortByDistance([...finalPeers.values()]) }
      this.live.set(id, trace)
      this.scheduleFlush()
    }
    commit({})
    const elapsed = (): number => performance.now() - started

    return {
      id,
      record: (event) => {
        if (trace.status !== 'running' || events.length >= MAX_EVENTS_PER_QUERY) return
        const converted = convertEvent(event, elapsed(), tracePeer)
        if (converted == null) return
        events.push(converted)
        if (converted.kind === 'final-peer') finalPeers.set(converted.peer.peer, converted.peer)
        commit({ messagesSent: trace.messagesSent + (converted.kind === 'send-query' ? 1 : 0) })
      },
      finish: (summary) => {
        if (trace.status !== 'running') return trace.durationMs ?? 0
        const durationMs = elapsed()
        commit({ status: 'done', durationMs, summary })
        this.flushNow()
        return durationMs
      },
      fail: (error, signal) => {
        if (trace.status !== 'running') return
        const reason = signal?.aborted === true ? (signal.reason as Error | undefined) : undefined
        const timedOut = reason?.name === 'TimeoutError'
        const cancelled = (reason != null && !timedOut) || (error as Error)?.name === 'OperationAbortedError'
        commit({
          status: cancelled ? 'cancelled' : 'failed',
          durationMs: elapsed(),
          summary: timedOut ? 'timed out' : cancelled ? 'cancelled' : (error as Error)?.message ?? String(error)
        })
        this.flushNow()
      }
    }
  }

  clear (): void {
    this.live.clear()
    this.store.set([])
  }

  private scheduleFlush (): void {
    this.flushTimer ??= setTimeout(() => { this.flushNow() }, 50)
  }

  private flushNow (): void {
    if (this.flushTimer != null) clearTimeout(this.flushTimer)
    this.flushTimer = undefined
    if (this.live.size === 0) return
    const updated = new Map(this.live)
    this.live.clear()
    const existing = this.store.getSnapshot().filter(query => !updated.has(query.id))
    // Ids are `q<counter>-…`: compare numerically, or q9 would sort above q10 within one millisecond.
    const merged = [...existing, ...updated.values()].sort((a, b) => b.startedAt - a.startedAt || b.id.localeCompare(a.id, 'en', { numeric: true }))
    this.store.set(merged.slice(0, MAX_QUERIES))
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
