import { createHash } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { EventTypes, MessageType } from '@libp2p/kad-dht'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { OperationAbortedError, OperationTimeoutError } from '../../../src/p2p/errors.ts'
import { describeQueryFailure, kadProgressEvent, newQueryId } from '../../../src/p2p/dht/dht-progress.ts'
import { QueryLog, convertEvent } from '../../../src/p2p/dht/query-trace.ts'
import type { QueryOperation } from '../../../src/p2p/dht/dht-progress.ts'
import type { QueryTrace, TraceEvent, TracePeer } from '../../../src/p2p/dht/query-trace.ts'
import type { PeerId } from '@libp2p/interface'
import type { DisjointPath, QueryEvent } from '@libp2p/kad-dht'

// ---------------------------------------------------------------------------------------------
// kad-dht events, shaped exactly like @libp2p/kad-dht's QueryEvent union

const pathOf = (index: number): DisjointPath => ({ index, queued: 0, running: 1, total: 3 })
const info = (id: PeerId): { id: PeerId, multiaddrs: [] } => ({ id, multiaddrs: [] })

const sendQuery = (to: PeerId, path = 0, messageType = MessageType.GET_VALUE): QueryEvent =>
  ({ name: 'SEND_QUERY', type: EventTypes.SEND_QUERY, to, messageName: messageType, messageType, path: pathOf(path) })
const peerResponse = (from: PeerId, closer: PeerId[], record = false, path = 0): QueryEvent => ({
  name: 'PEER_RESPONSE',
  type: EventTypes.PEER_RESPONSE,
  from,
  messageName: MessageType.GET_VALUE,
  messageType: MessageType.GET_VALUE,
  closer: closer.map(info),
  providers: [],
  ...(record ? { record: { key: Uint8Array.of(1), value: Uint8Array.of(2) } } : {}),
  path: pathOf(path)
})
const finalPeer = (from: PeerId, peer: PeerId, path = 0): QueryEvent => ({ name: 'FINAL_PEER', type: EventTypes.FINAL_PEER, from, peer: info(peer), path: pathOf(path) })
const queryError = (from: PeerId, error: Error, path = 0): QueryEvent => ({ name: 'QUERY_ERROR', type: EventTypes.QUERY_ERROR, from, error, path: pathOf(path) })
const valueEvent = (from: PeerId, path = 0): QueryEvent => ({ name: 'VALUE', type: EventTypes.VALUE, from, value: Uint8Array.of(9), path: pathOf(path) })
const addPeer = (peer: PeerId, path = 0): QueryEvent => ({ name: 'ADD_PEER', type: EventTypes.ADD_PEER, peer, path: pathOf(path) })
const dialPeer = (peer: PeerId, path = 0): QueryEvent => ({ name: 'DIAL_PEER', type: EventTypes.DIAL_PEER, peer, path: pathOf(path) })
const pathEnded = (path = 0): QueryEvent => ({ name: 'PATH_ENDED', type: EventTypes.PATH_ENDED, path: pathOf(path) })
const provider = (from: PeerId, path = 0): QueryEvent => ({ name: 'PROVIDER', type: EventTypes.PROVIDER, from, providers: [info(from)], path: pathOf(path) })

// ---------------------------------------------------------------------------------------------
// independent Kademlia arithmetic (node:crypto + BigInt) to check distances against

const sha256 = (bytes: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(bytes).digest())
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex')

function expectedPeer (peer: PeerId, target: Uint8Array): TracePeer {
  const kadId = sha256(peer.toMultihash().bytes)
  const distance = kadId.map((byte, index) => byte ^ (target[index] ?? 0))
  const value = BigInt(`0x${hex(distance)}`)
  const bits = value.toString(2).length
  const log2 = value === 0n ? 0 : bits <= 53 ? Math.log2(Number(value)) : Math.log2(Number(value >> BigInt(bits - 53))) + bits - 53
  return {
    peer: peer.toString(),
    distanceHex: hex(distance),
    distance: value === 0n ? '0' : `2^${bits} · ${hex(distance.subarray(0, 3))}…`,
    distanceLog2: log2
  }
}

function expectTracePeer (actual: TracePeer | undefined, peer: PeerId, target: Uint8Array): void {
  const expected = expectedPeer(peer, target)
  expect(actual?.peer).toBe(expected.peer)
  expect(actual?.distanceHex).toBe(expected.distanceHex)
  expect(actual?.distance).toBe(expected.distance)
  expect(actual?.distanceLog2).toBeCloseTo(expected.distanceLog2, 9)
}

const distanceOf = (peer: PeerId, target: Uint8Array): bigint => BigInt(`0x${expectedPeer(peer, target).distanceHex}`)

let peers: PeerId[]
let target: Uint8Array

beforeAll(async () => {
  peers = await Promise.all(Array.from({ length: 8 }, async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))))
  target = sha256(new TextEncoder().encode('/webkad/query-trace-target'))
})

const peer = (index: number): PeerId => {
  const found = peers[index]
  if (found == null) throw new Error(`no peer ${index}`)
  return found
}

// ---------------------------------------------------------------------------------------------

describe('convertEvent', () => {
  /** Stands in for QueryLog's tracer: records which peers were traced and tags them. */
  const stubTracer = (): { tracePeer: (id: PeerId) => TracePeer, traced: string[] } => {
    const traced: string[] = []
    return {
      traced,
      tracePeer: (id) => {
        traced.push(id.toString())
        return { peer: id.toString(), distanceHex: 'stub', distance: 'stub', distanceLog2: -1 }
      }
    }
  }
  const stub = (id: PeerId): TracePeer => ({ peer: id.toString(), distanceHex: 'stub', distance: 'stub', distanceLog2: -1 })

  it('SEND_QUERY → send-query with the recipient and message name', () => {
    const { tracePeer, traced } = stubTracer()
    expect(convertEvent(sendQuery(peer(0), 2, MessageType.FIND_NODE), 12.5, tracePeer))
      .toEqual({ kind: 'send-query', at: 12.5, path: 2, to: stub(peer(0)), message: 'FIND_NODE' })
    expect(traced).toEqual([peer(0).toString()])
  })

  it('PEER_RESPONSE → peer-response with closer peers and whether a record came back', () => {
    const { tracePeer, traced } = stubTracer()
    expect(convertEvent(peerResponse(peer(0), [peer(1), peer(2)], true, 1), 3, tracePeer))
      .toEqual({ kind: 'peer-response', at: 3, path: 1, from: stub(peer(0)), message: 'GET_VALUE', closer: [stub(peer(1)), stub(peer(2))], hasRecord: true })
    expect(traced).toEqual([peer(0), peer(1), peer(2)].map(String))
    expect(convertEvent(peerResponse(peer(0), [], false), 4, tracePeer)).toMatchObject({ kind: 'peer-response', closer: [], hasRecord: false })
  })

  it('FINAL_PEER → final-peer with the reporting peer as a string and the found peer traced', () => {
    const { tracePeer, traced } = stubTracer()
    expect(convertEvent(finalPeer(peer(0), peer(3), 0), 1, tracePeer))
      .toEqual({ kind: 'final-peer', at: 1, path: 0, from: peer(0).toString(), peer: stub(peer(3)) })
    expect(traced).toEqual([peer(3).toString()])
  })

  it('QUERY_ERROR → query-error with the error message', () => {
    const { tracePeer } = stubTracer()
    expect(convertEvent(queryError(peer(1), new Error('stream reset'), 4), 5, tracePeer))
      .toEqual({ kind: 'query-error', at: 5, path: 4, from: stub(peer(1)), error: 'stream reset' })
  })

  it('QUERY_ERROR without an error object → "error"', () => {
    const { tracePeer } = stubTracer()
    const event = { ...queryError(peer(1), new Error('x')), error: undefined } as unknown as QueryEvent
    expect(convertEvent(event, 0, tracePeer)).toMatchObject({ kind: 'query-error', error: 'error' })
  })

  it('VALUE → value', () => {
    const { tracePeer } = stubTracer()
    expect(convertEvent(valueEvent(peer(2), 1), 7, tracePeer)).toEqual({ kind: 'value', at: 7, path: 1, from: stub(peer(2)) })
  })

  it('ADD_PEER → add-peer and DIAL_PEER → dial-peer', () => {
    const { tracePeer } = stubTracer()
    expect(convertEvent(addPeer(peer(4), 2), 8, tracePeer)).toEqual({ kind: 'add-peer', at: 8, path: 2, peer: stub(peer(4)) })
    expect(convertEvent(dialPeer(peer(5), 0), 9, tracePeer)).toEqual({ kind: 'dial-peer', at: 9, path: 0, peer: stub(peer(5)) })
  })

  it('PATH_ENDED → path-ended without peers', () => {
    const { tracePeer, traced } = stubTracer()
    expect(convertEvent(pathEnded(3), 10, tracePeer)).toEqual({ kind: 'path-ended', at: 10, path: 3 })
    expect(traced).toEqual([])
  })

  it('PROVIDER → provider', () => {
    const { tracePeer } = stubTracer()
    expect(convertEvent(provider(peer(6), 1), 11, tracePeer)).toEqual({ kind: 'provider', at: 11, path: 1, from: stub(peer(6)) })
  })

  it('uses path -1 for events without a disjoint path (local work)', () => {
    const { tracePeer } = stubTracer()
    const event = { ...valueEvent(peer(0)), path: undefined } as unknown as QueryEvent
    expect(convertEvent(event, 0, tracePeer)).toMatchObject({ kind: 'value', path: -1 })
  })

  it('drops event kinds it does not know', () => {
    const { tracePeer, traced } = stubTracer()
    expect(convertEvent({ name: 'SOMETHING_NEW', type: 99, path: pathOf(0) } as unknown as QueryEvent, 0, tracePeer)).toBeUndefined()
    expect(traced).toEqual([])
  })

  it('produces plain serialisable data (no PeerId objects)', () => {
    const { tracePeer } = stubTracer()
    const events = [sendQuery(peer(0)), peerResponse(peer(0), [peer(1)], true), finalPeer(peer(0), peer(1)), queryError(peer(0), new Error('e')), valueEvent(peer(0)), addPeer(peer(0)), dialPeer(peer(0)), pathEnded(), provider(peer(0))]
    for (const event of events) {
      const converted = convertEvent(event, 1, tracePeer)
      expect(JSON.parse(JSON.stringify(converted))).toEqual(converted)
    }
  })
})

describe('QueryLog', () => {
  /**
   * Plays one DHT operation's progress into the log, as DhtOperations reports it: a query-start,
   * kad-dht's events, and one query-end.
   */
  const begin = (log: QueryLog, operation: QueryOperation, label: string, targetKadId: Uint8Array, origin: 'user' | 'scheduler' = 'user'): {
    id: string
    record(event: QueryEvent): void
    finish(summary: string): void
    fail(error: unknown, signal?: AbortSignal): void
  } => {
    const queryId = newQueryId()
    const emit = log.progressHandler()
    const started = performance.now()
    emit({ type: 'webkad:dht:query-start', detail: { queryId, operation, label, origin, targetKadId } })
    return {
      id: queryId,
      record: (event) => { emit(kadProgressEvent(event)) },
      finish: (summary) => { emit({ type: 'webkad:dht:query-end', detail: { queryId, status: 'done', summary, durationMs: performance.now() - started } }) },
      fail: (error, signal) => { emit({ type: 'webkad:dht:query-end', detail: { queryId, ...describeQueryFailure(error, signal), durationMs: performance.now() - started } }) }
    }
  }
  beforeEach(() => { vi.useFakeTimers({ now: 1_000_000 }) })
  afterEach(() => { vi.useRealTimers() })

  const snapshot = (log: QueryLog): readonly QueryTrace[] => log.queries.getSnapshot()
  const only = (log: QueryLog): QueryTrace => {
    const queries = snapshot(log)
    expect(queries).toHaveLength(1)
    const query = queries[0]
    if (query == null) throw new Error('no query')
    return query
  }

  it('publishes a running query after the 50 ms coalescing window, not before', () => {
    const log = new QueryLog()
    const recorder = begin(log, 'get', '/webkad/x', target)
    expect(snapshot(log)).toEqual([])
    vi.advanceTimersByTime(49)
    expect(snapshot(log)).toEqual([])
    vi.advanceTimersByTime(1)
    expect(only(log)).toMatchObject({
      id: recorder.id,
      operation: 'get',
      label: '/webkad/x',
      targetKadId: hex(target),
      startedAt: 1_000_000,
      status: 'running',
      messagesSent: 0,
      events: [],
      finalPeers: []
    })
    expect(only(log).durationMs).toBeUndefined()
  })

  it('records who started the query: the user by default, or the scheduler', () => {
    const log = new QueryLog()
    begin(log, 'get', 'by-user', target).finish('done')
    begin(log, 'closest-peers', 'by-scheduler', target, 'scheduler').finish('done')
    const byLabel = new Map(snapshot(log).map(query => [query.label, query]))
    expect(byLabel.get('by-user')?.origin).toBe('user')
    expect(byLabel.get('by-scheduler')?.origin).toBe('scheduler')
  })

  it('converts events with distances relative to the query target', () => {
    const log = new QueryLog()
    const recorder = begin(log, 'find-peer', peer(7).toString(), target)
    vi.advanceTimersByTime(10)
    recorder.record(sendQuery(peer(0), 0, MessageType.FIND_NODE))
    vi.advanceTimersByTime(5)
    recorder.record(peerResponse(peer(0), [peer(1), peer(2)], false, 0))
    recorder.finish('found')
    const [send, response] = only(log).events as TraceEvent[]
    expect(send).toMatchObject({ kind: 'send-query', at: 10, path: 0, message: 'FIND_NODE' })
    expect(response).toMatchObject({ kind: 'peer-response', at: 15 })
    if (send?.kind !== 'send-query' || response?.kind !== 'peer-response') throw new Error('unexpected kinds')
    expectTracePeer(send.to, peer(0), target)
    expectTracePeer(response.from, peer(0), target)
    expectTracePeer(response.closer[0], peer(1), target)
    expectTracePeer(response.closer[1], peer(2), target)
  })

  it('measures distances from its own target, not from another query', () => {
    const log = new QueryLog()
    const otherTarget = sha256(new TextEncoder().encode('another key'))
    const first = begin(log, 'get', 'a', target)
    const second = begin(log, 'get', 'b', otherTarget)
    first.record(addPeer(peer(0)))
    second.record(addPeer(peer(0)))
    first.finish('a done')
    second.finish('b done')
    const byLabel = new Map(snapshot(log).map(query => [query.label, query]))
    const firstEvent = byLabel.get('a')?.events[0]
    const secondEvent = byLabel.get('b')?.events[0]
    if (firstEvent?.kind !== 'add-peer' || secondEvent?.kind !== 'add-peer') throw new Error('unexpected kinds')
    expectTracePeer(firstEvent.peer, peer(0), target)
    expectTracePeer(secondEvent.peer, peer(0), otherTarget)
    expect(firstEvent.peer.distanceHex).not.toBe(secondEvent.peer.distanceHex)
  })

  it('shows a peer whose Kademlia ID is the target at distance 0', () => {
    const log = new QueryLog()
    const recorder = begin(log, 'find-peer', peer(0).toString(), sha256(peer(0).toMultihash().bytes))
    recorder.record(dialPeer(peer(0)))
    recorder.finish('done')
    const event = only(log).events[0]
    if (event?.kind !== 'dial-peer') throw new Error('unexpected kind')
    expect(event.peer).toEqual({ peer: peer(0).toString(), distanceHex: '00'.repeat(32), distance: '0', distanceLog2: 0 })
  })

  it('counts one message per SEND_QUERY and nothing else', () => {
    const log = new QueryLog()
    const recorder = begin(log, 'put', 'k', target)
    recorder.record(sendQuery(peer(0)))
    recorder.record(sendQuery(peer(1), 1, MessageType.PUT_VALUE))
    recorder.record(peerResponse(peer(0), [peer(2)]))
    recorder.record(dialPeer(peer(2)))
    recorder.record(addPeer(peer(2)))
    recorder.record(queryError(peer(1), new Error('boom')))
    recorder.record(sendQuery(peer(2)))
    recorder.record(pathEnded())
    recorder.finish('ok')
    expect(only(log).messagesSent).toBe(3)
    expect(only(log).events.map(event => event.kind)).toEqual(['send-query', 'send-query', 'peer-response', 'dial-peer', 'add-peer', 'query-error', 'send-query', 'path-ended'])
  })

  it('lists final peers nearest first, once each, whatever order they arrive in', () => {
    const log = new QueryLog()
    const recorder = begin(log, 'closest-peers', 'k', target)
    const candidates = [peer(0), peer(1), peer(2), peer(3), peer(4), peer(5)]
    const expected = [...candidates].sort((a, b) => {
      const difference = distanceOf(a, target) - distanceOf(b, target)
      return difference < 0n ? -1 : difference > 0n ? 1 : 0
    }).map(String)
    // Farthest first, plus a repeat: the trace must sort and de-duplicate.
    for (const candidate of [...expected].reverse()) {
      recorder.record(finalPeer(peer(7), candidates.find(entry => entry.toString() === candidate) ?? peer(0)))
    }
    recorder.record(finalPeer(peer(6), peer(2)))
    recorder.finish('done')
    const trace = only(log)
    expect(trace.finalPeers.map(entry => entry.peer)).toEqual(expected)
    for (const entry of trace.finalPeers) {
      expectTracePeer(entry, candidates.find(candidate => candidate.toString() === entry.peer) ?? peer(0), target)
    }
    // Every FINAL_PEER event stays in the event list.
    expect(trace.events.filter(event => event.kind === 'final-peer')).toHaveLength(7)
  })

  it('finish: status done, duration, summary, published at once', () => {
    const log = new QueryLog()
    const recorder = begin(log, 'get', 'k', target)
    vi.advanceTimersByTime(120)
    const listener = vi.fn()
    log.queries.subscribe(listener)
    recorder.finish('found a record')
    expect(listener).toHaveBeenCalledTimes(1)
    expect(only(log)).toMatchObject({ status: 'done', durationMs: 120, summary: 'found a record' })
  })

  it('fail: OperationAbortedError → cancelled', () => {
    const log = new QueryLog()
    const recorder = begin(log, 'get', 'k', target)
    vi.advanceTimersByTime(7)
    recorder.fail(new OperationAbortedError('Get was cancelled'))
    expect(only(log)).toMatchObject({ status: 'cancelled', durationMs: 7, summary: 'cancelled' })
  })

  it('fail with the operation\'s signal: aborted by the caller → cancelled, whatever the error', () => {
    const log = new QueryLog()
    const controller = new AbortController()
    controller.abort()
    begin(log, 'get', 'k', target).fail(new Error('stream reset'), controller.signal)
    expect(only(log)).toMatchObject({ status: 'cancelled', summary: 'cancelled' })
  })

  it('fail with the operation\'s signal: its deadline passed → failed, "timed out"', () => {
    const log = new QueryLog()
    const signal = AbortSignal.abort(new DOMException('deadline', 'TimeoutError'))
    begin(log, 'get', 'k', target).fail(new Error('aborted'), signal)
    expect(only(log)).toMatchObject({ status: 'failed', summary: 'timed out' })
  })

  it('fail with a signal that was not aborted → judged by the error alone', () => {
    const log = new QueryLog()
    const signal = new AbortController().signal
    begin(log, 'get', 'plain', target).fail(new Error('no peers'), signal)
    begin(log, 'get', 'aborted-error', target).fail(new OperationAbortedError('x'), signal)
    const byLabel = new Map(snapshot(log).map(query => [query.label, query]))
    expect(byLabel.get('plain')).toMatchObject({ status: 'failed', summary: 'no peers' })
    expect(byLabel.get('aborted-error')).toMatchObject({ status: 'cancelled' })
  })

  it('fail: any other error → failed with its message', () => {
    const log = new QueryLog()
    begin(log, 'get', 'timeout', target).fail(new OperationTimeoutError('too slow'))
    begin(log, 'get', 'plain', target).fail(new Error('stream reset'))
    begin(log, 'get', 'string', target).fail('not an error object')
    // An AbortError from a library is not the user's cancellation.
    begin(log, 'get', 'abort', target).fail(new DOMException('aborted', 'AbortError'))
    const byLabel = new Map(snapshot(log).map(query => [query.label, query]))
    expect(byLabel.get('timeout')).toMatchObject({ status: 'failed', summary: 'too slow' })
    expect(byLabel.get('plain')).toMatchObject({ status: 'failed', summary: 'stream reset' })
    expect(byLabel.get('string')).toMatchObject({ status: 'failed', summary: 'not an error object' })
    expect(byLabel.get('abort')).toMatchObject({ status: 'failed' })
  })

  it('ignores events and outcomes after the query has ended', () => {
    const log = new QueryLog()
    const recorder = begin(log, 'get', 'k', target)
    recorder.record(sendQuery(peer(0)))
    recorder.finish('first outcome')
    recorder.record(sendQuery(peer(1)))
    recorder.fail(new Error('late failure'))
    recorder.finish('second outcome')
    vi.advanceTimersByTime(100)
    expect(only(log)).toMatchObject({ status: 'done', summary: 'first outcome', messagesSent: 1 })
    expect(only(log).events).toHaveLength(1)

    const failed = begin(log, 'get', 'f', target)
    failed.fail(new Error('first'))
    failed.finish('too late')
    expect(snapshot(log).find(query => query.id === failed.id)).toMatchObject({ status: 'failed', summary: 'first' })
  })

  it('drops kad-dht event kinds it does not know without counting them', () => {
    const log = new QueryLog()
    const recorder = begin(log, 'get', 'k', target)
    recorder.record({ name: 'SOMETHING_NEW', type: 99, path: pathOf(0) } as unknown as QueryEvent)
    recorder.finish('done')
    expect(only(log).events).toEqual([])
  })

  it('coalesces a burst of events into one store notification per 50 ms', () => {
    const log = new QueryLog()
    const listener = vi.fn()
    log.queries.subscribe(listener)
    const recorder = begin(log, 'get', 'k', target)
    for (let index = 0; index < 100; index++) recorder.record(sendQuery(peer(index % peers.length)))
    expect(listener).not.toHaveBeenCalled()
    vi.advanceTimersByTime(50)
    expect(listener).toHaveBeenCalledTimes(1)
    expect(only(log).messagesSent).toBe(100)
    vi.advanceTimersByTime(500)
    expect(listener).toHaveBeenCalledTimes(1)

    // The next burst gets its own single notification.
    for (let index = 0; index < 30; index++) recorder.record(addPeer(peer(0)))
    vi.advanceTimersByTime(50)
    expect(listener).toHaveBeenCalledTimes(2)
    expect(only(log).events).toHaveLength(130)
  })

  it('publishes several queries updated in the same window together', () => {
    const log = new QueryLog()
    const listener = vi.fn()
    log.queries.subscribe(listener)
    const a = begin(log, 'get', 'a', target)
    vi.advanceTimersByTime(1)
    const b = begin(log, 'put', 'b', target)
    a.record(sendQuery(peer(0)))
    b.record(sendQuery(peer(1)))
    b.record(sendQuery(peer(2)))
    vi.advanceTimersByTime(50)
    expect(listener).toHaveBeenCalledTimes(1)
    expect(snapshot(log).map(query => [query.label, query.messagesSent])).toEqual([['b', 2], ['a', 1]])
  })

  it('caps the events of one query at 2000', () => {
    const log = new QueryLog()
    const recorder = begin(log, 'closest-peers', 'k', target)
    for (let index = 0; index < 2100; index++) recorder.record(addPeer(peer(index % peers.length)))
    recorder.finish('done')
    expect(only(log).events).toHaveLength(2000)
    expect(only(log).status).toBe('done')
  })

  it('keeps the 20 newest queries, newest first', () => {
    const log = new QueryLog()
    const ids: string[] = []
    for (let index = 0; index < 25; index++) {
      ids.push(begin(log, 'get', `key-${index}`, target).id)
      vi.advanceTimersByTime(1)
    }
    vi.advanceTimersByTime(50)
    const queries = snapshot(log)
    expect(queries).toHaveLength(20)
    expect(queries.map(query => query.label)).toEqual(Array.from({ length: 20 }, (_, index) => `key-${24 - index}`))
    expect(new Set(queries.map(query => query.id)).size).toBe(20)
    expect(new Set(ids).size).toBe(25)
  })

  it('keeps newest first even when queries start in the same millisecond', () => {
    // A Put runs its read-before-write Get and then its own query: often within one millisecond.
    const log = new QueryLog()
    for (let index = 1; index <= 12; index++) begin(log, 'get', `key-${index}`, target)
    vi.advanceTimersByTime(50)
    expect(snapshot(log).map(query => query.label)).toEqual(Array.from({ length: 12 }, (_, index) => `key-${12 - index}`))
  })

  it('drops the oldest query when the 21st arrives, and an update does not resurrect order', () => {
    const log = new QueryLog()
    const first = begin(log, 'get', 'first', target)
    vi.advanceTimersByTime(1)
    for (let index = 0; index < 19; index++) {
      begin(log, 'get', `q${index}`, target)
      vi.advanceTimersByTime(1)
    }
    vi.advanceTimersByTime(50)
    expect(snapshot(log)).toHaveLength(20)
    expect(snapshot(log).at(-1)?.id).toBe(first.id)
    // Updating the oldest query keeps its place: order is by start time.
    first.record(sendQuery(peer(0)))
    vi.advanceTimersByTime(50)
    expect(snapshot(log).at(-1)).toMatchObject({ id: first.id, messagesSent: 1 })
    begin(log, 'get', 'newest', target)
    vi.advanceTimersByTime(50)
    expect(snapshot(log)).toHaveLength(20)
    expect(snapshot(log)[0]?.label).toBe('newest')
    expect(snapshot(log).some(query => query.id === first.id)).toBe(false)
  })

  it('clear() empties the log', () => {
    const log = new QueryLog()
    begin(log, 'get', 'a', target).finish('done')
    expect(snapshot(log)).toHaveLength(1)
    log.clear()
    expect(snapshot(log)).toEqual([])
  })

  it('gives every query a distinct id', () => {
    const log = new QueryLog()
    const ids = Array.from({ length: 50 }, () => begin(log, 'get', 'k', target).id)
    expect(new Set(ids).size).toBe(50)
  })

  it('publishes immutable snapshots: a later event does not change an earlier snapshot', () => {
    const log = new QueryLog()
    const recorder = begin(log, 'get', 'k', target)
    recorder.record(sendQuery(peer(0)))
    vi.advanceTimersByTime(50)
    const before = snapshot(log)
    const beforeQuery = before[0]
    recorder.record(sendQuery(peer(1)))
    vi.advanceTimersByTime(50)
    expect(snapshot(log)).not.toBe(before)
    expect(beforeQuery?.events).toHaveLength(1)
    expect(beforeQuery?.messagesSent).toBe(1)
    expect(snapshot(log)[0]?.events).toHaveLength(2)
  })
})
