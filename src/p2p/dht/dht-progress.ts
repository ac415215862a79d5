import type { QueryEvent } from '@libp2p/kad-dht'

/**
 * Typed progress of webkad's DHT operations, in the shape of libp2p's progress events
 * (`{ type, detail }` passed to `onProgress`). Between a `webkad:dht:query-start` and its
 * `webkad:dht:query-end` come kad-dht's own query events under kad-dht's own names
 * (`kad-dht:query:send-query`, …). One operation runs its queries one after another (a Put's
 * read, then its store), so every kad-dht event belongs to the query started last.
 */
export type DhtProgressEvent =
  | { type: 'webkad:dht:query-start', detail: DhtQueryStart }
  | { type: 'webkad:dht:query-end', detail: DhtQueryEnd }
  /** The routing table was empty when the query began: it waits (boundedly) for a first peer. */
  | { type: 'webkad:dht:waiting-for-peer', detail: { queryId: string, timeoutMs: number } }
  | { type: KadQueryEventType, detail: QueryEvent }

export type QueryOperation = 'put' | 'get' | 'find-peer' | 'closest-peers' | 'replicate' | 'provide' | 'find-providers'

export interface DhtQueryStart {
  queryId: string
  operation: QueryOperation
  /** What was looked up, as the user typed it (record key or peer ID). */
  label: string
  /** Started by the user, or by the scheduler in the background. */
  origin: 'user' | 'scheduler'
  /** The Kademlia ID the query converges on. */
  targetKadId: Uint8Array
}

export interface DhtQueryEnd {
  queryId: string
  /** cancelled: the caller aborted; failed: an error or the deadline. */
  status: 'done' | 'failed' | 'cancelled'
  /** A one-line summary of the outcome or the error. */
  summary: string
  durationMs: number
}

/** `onProgress` of every DhtOperations call. */
export interface DhtProgressOptions {
  onProgress?(event: DhtProgressEvent): void
}

const KAD_EVENT_TYPES = {
  SEND_QUERY: 'kad-dht:query:send-query',
  PEER_RESPONSE: 'kad-dht:query:peer-response',
  FINAL_PEER: 'kad-dht:query:final-peer',
  QUERY_ERROR: 'kad-dht:query:query-error',
  PROVIDER: 'kad-dht:query:provider',
  VALUE: 'kad-dht:query:value',
  ADD_PEER: 'kad-dht:query:add-peer',
  DIAL_PEER: 'kad-dht:query:dial-peer',
  PATH_ENDED: 'kad-dht:query:path-ended'
} as const satisfies Record<QueryEvent['name'], `kad-dht:query:${string}`>

export type KadQueryEventType = typeof KAD_EVENT_TYPES[keyof typeof KAD_EVENT_TYPES]

/** A kad-dht query event as kad-dht itself reports it to `onProgress`. */
export function kadProgressEvent (event: QueryEvent): DhtProgressEvent {
  return { type: KAD_EVENT_TYPES[event.name], detail: event }
}

/**
 * The kad-dht query event inside a progress event kad-dht passed to `onProgress`, if it is one
 * (kad-dht also passes dial and stream progress through the same callback).
 */
export function kadQueryEventOf (progress: { type: string, detail?: unknown }): QueryEvent | undefined {
  if (!progress.type.startsWith('kad-dht:query:') || progress.detail == null) return undefined
  const event = progress.detail as QueryEvent
  return KAD_EVENT_TYPES[event.name] === progress.type ? event : undefined
}

let queryCounter = 0

/** A query id unique in this tab: `q<counter>-<time>` (the counter orders queries of one millisecond). */
export function newQueryId (): string {
  return `q${++queryCounter}-${Date.now().toString(36)}`
}

/**
 * How a query that threw ended. `signal` is the operation's: an abort by the caller is
 * "cancelled", its deadline "timed out"; without an abort the error decides.
 */
export function describeQueryFailure (error: unknown, signal?: AbortSignal): Pick<DhtQueryEnd, 'status' | 'summary'> {
  const reason = signal?.aborted === true ? (signal.reason as Error | undefined) : undefined
  const timedOut = reason?.name === 'TimeoutError'
  const cancelled = (reason != null && !timedOut) || (error as Error)?.name === 'OperationAbortedError'
  return {
    status: cancelled ? 'cancelled' : 'failed',
    summary: timedOut ? 'timed out' : cancelled ? 'cancelled' : (error as Error)?.message ?? String(error)
  }
}
