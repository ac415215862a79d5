import { logger } from '@libp2p/logger'
import { peerIdFromString } from '@libp2p/peer-id'
import { EventTypes } from '@libp2p/kad-dht'
import { equals, fromString, toString } from 'uint8arrays'
import { InvalidRecordError, NoPeersError, PeerNotFoundError, RecordNotFoundError } from '../errors.ts'
import { describeQueryFailure, kadProgressEvent, kadQueryEventOf, newQueryId } from './dht-progress.ts'
import { kadInternals } from './kad-internals.ts'
import { waitForRoutingTablePeer } from './routing-table-view.ts'
import { compareDistances, kadIdOfKey, kadIdOfPeer, xorDistance } from './kad-math.ts'
import { compareRecords, createSignedRecord, decodeRecordEnvelope, parseRecordKey, selectRecord, validateRecord } from './records.ts'
import type { DhtProgressOptions, DhtQueryStart } from './dht-progress.ts'
import type { KadInternals } from './kad-internals.ts'
import type { RecordPayload, WebkadRecord } from './records.ts'
import type { KadDHT } from '@libp2p/kad-dht'
import type { QueryEvent } from '@libp2p/kad-dht'
import type { Libp2p, PeerId, PrivateKey } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

const log = logger('webkad:dht')

/** Any node with webkad's DHT: a tab's, a relay's, a simulated one. */
export type DhtNode = Pick<Libp2p<{ dht: KadDHT }>, 'peerId' | 'getPeers' | 'peerStore' | 'services'>

/** What every DHT operation takes: a signal (the caller's deadline) and typed progress. */
export interface DhtOperationOptions extends DhtProgressOptions {
  signal: AbortSignal
}

export interface PutResult {
  key: string
  sequence: bigint
  /** When the record dies unless republished (ms epoch). */
  expiresAt: number
  queryId: string
  /** Peers that stored the record (echoed it back). */
  accepted: string[]
  /** Peers that were asked to store it and did not, with the reason. */
  failed: Array<{ peer: string, reason: string }>
  durationMs: number
}

export interface GetOptions extends DhtOperationOptions {
  /**
   * Valid records to collect before the lookup stops early. 0 (default) waits for the whole
   * lookup, as kad-dht does; 1 answers with the first valid record.
   */
  quorum?: number
  /** Shown in the lookup list instead of the key (e.g. the read a Put does first). */
  label?: string
}

export interface GetResult {
  key: string
  record: WebkadRecord
  queryId: string
  /** Peers (or this tab) that returned the winning record. */
  holders: string[]
  /** Peers that returned a valid but older record, and whether they were corrected. */
  outdated: Array<{ peer: string, sequence: bigint, corrected: boolean }>
  /** Peers that returned a record webkad's validator refused. */
  invalid: Array<{ peer: string, reason: string }>
  /** The closest peer that had no record and was sent a copy (Kademlia caching), if any. */
  cachedOn?: string
  /** True when the lookup stopped early because the quorum was reached. */
  stoppedAtQuorum: boolean
  durationMs: number
}

export interface FindPeerResult {
  peerId: string
  addresses: Multiaddr[]
  answeredBy: string
  queryId: string
  messagesSent: number
  durationMs: number
}

export interface ReplicateResult {
  key: string
  queryId: string
  /** Peers that answered the lookup towards the key. */
  asked: number
  /** Of the k closest, those that already held this record or a newer one (left alone). */
  upToDate: string[]
  /** Of the k closest, those that lacked it or held an older one and stored it now. */
  stored: string[]
  failed: Array<{ peer: string, reason: string }>
  /** DHT requests sent: the lookup's GET_VALUEs and the PUT_VALUEs. */
  messages: number
  /** Bytes of the record sent in PUT_VALUEs. */
  bytesSent: number
  durationMs: number
}

export interface ClosestPeersResult {
  key: string
  peers: string[]
  queryId: string
  durationMs: number
}

type HolderResponse =
  | { kind: 'record', record: WebkadRecord, value: Uint8Array }
  | { kind: 'invalid', reason: string }
  | { kind: 'none' }

/** What a FIND_VALUE lookup heard: each peer's answer, and the peers kad-dht corrected itself. */
interface ValueLookup {
  responses: Map<string, HolderResponse>
  /** Peers named in the lookup's answers (closer peers), asked or not. */
  observed: Map<string, PeerId>
  correctedByKad: Set<string>
  /** Peers the lookup asked that failed to answer (unreachable, reset, timed out). */
  failed: Set<string>
  queriedPeers: number
  stoppedAtQuorum: boolean
}

/** The running query a DhtOperations method reports its kad-dht events to. */
interface RunningQuery {
  readonly id: string
  /** Reports one kad-dht event as this query's. */
  report(event: QueryEvent): void
  /** ms since the query started. */
  elapsed(): number
}

const NO_PEERS = 'No peers to ask: the routing table is empty (is the relay connected?).'
/** How long a query begun with an empty routing table waits for a first peer. */
const FIRST_PEER_TIMEOUT_MS = 5_000

/**
 * webkad's DHT operations on top of kad-dht: signed Put, Get with quorum, correction of
 * outdated holders and caching, FindPeer and closest-peers. Each reports its queries as typed
 * progress events (see dht-progress.ts); the query log draws traces from them.
 */
export class DhtOperations {
  private readonly node: DhtNode
  private readonly privateKey: PrivateKey
  private readonly kad: KadInternals

  constructor (node: DhtNode, privateKey: PrivateKey) {
    this.node = node
    this.privateKey = privateKey
    this.kad = kadInternals(node.services.dht)
  }

  /**
   * Signs `payload` under `key` with a sequence above any record the network holds for it
   * (read first), stores it locally and on the k closest peers.
   */
  async put (keyInput: string, payload: RecordPayload, options: DhtOperationOptions & { lifetimeMs?: number }): Promise<PutResult> {
    const startedAt = performance.now()
    const { key } = parseRecordKey(keyInput)
    const payloadBytes = payload.type === 'text' ? fromString(payload.text).byteLength : payload.bytes.byteLength
    if (payloadBytes === 0) throw new InvalidRecordError('The value is empty: enter some text or bytes to store.', 'malformed')
    const keyBytes = fromString(key)
    // Validate everything (size, owner) before any network work.
    await createSignedRecord(this.privateKey, this.node.peerId, { key, payload, sequence: 0n, lifetimeMs: options.lifetimeMs })
    const answered = new Set<string>()
    // The read waits for a first DHT peer if there is none yet (see runQuery).
    const current = await this.findValue(key, { ...options, quorum: 0, label: `${key} (read before Put)` }, { repair: false, answered }).catch((err: unknown) => {
      if ((err as Error).name === 'RecordNotFoundError') return undefined
      throw err
    })
    if (this.kad.routingTable.size === 0) throw new NoPeersError('There are no peers to store the record on (is the relay connected?).')
    const sequence = (current?.record.sequence ?? 0n) + 1n
    const value = await createSignedRecord(this.privateKey, this.node.peerId, { key, payload, sequence, lifetimeMs: options.lifetimeMs })
    const { expiresAt } = await validateRecord(keyBytes, value)

    return await this.runQuery({ operation: 'put', label: key, origin: 'user', targetKadId: kadIdOfKey(keyBytes) }, options, async (query) => {
      const { accepted, failed } = await this.storeOnClosest(keyBytes, value, answered, query, options.signal)
      // The whole Put, including the read of the current sequence.
      const result = { key, sequence, expiresAt, queryId: query.id, accepted, failed, durationMs: performance.now() - startedAt }
      return { result, summary: `stored on ${accepted.length} of ${accepted.length + failed.length} closest peers (sequence ${sequence})` }
    }, (err) => isNoPeersFailure(err, this.kad)
      ? new NoPeersError('Stored in this tab only: there are no peers to store the record on (is the relay connected?).')
      : err)
  }

  /**
   * Iterative FIND_VALUE. Picks the best valid record with webkad's selector, writes it back to
   * holders of an outdated one, and caches it on the closest peer that had none.
   */
  async get (keyInput: string, options: GetOptions): Promise<GetResult> {
    return await this.findValue(keyInput, options, { repair: true, answered: new Set() })
  }

  /**
   * Holder replication (Kademlia §2.5): re-stores a record this node holds on the current k
   * closest peers to its key that lack it or hold an older one, found by a FIND_VALUE lookup (which
   * also tells who is up to date). The record is sent as it is: its expiry never moves.
   */
  async replicate (keyBytes: Uint8Array, value: Uint8Array, options: DhtOperationOptions): Promise<ReplicateResult> {
    const key = toString(keyBytes)
    const mine = decodeRecordEnvelope(value)
    return await this.runQuery({ operation: 'replicate', label: key, origin: 'scheduler', targetKadId: kadIdOfKey(keyBytes) }, options, async (query) => {
      let messages = 0
      const counted: RunningQuery = {
        id: query.id,
        elapsed: query.elapsed,
        report: (event) => {
          if (event.name === 'SEND_QUERY') messages++
          query.report(event)
        }
      }
      const answered = new Set<string>()
      const lookup = await this.lookupValue(keyBytes, { ...options, quorum: 0 }, counted, answered)
      answered.delete(this.node.peerId.toString())
      const closest = this.closestTo(kadIdOfKey(keyBytes), answered, this.kad.routingTable.kBucketSize)
      const upToDate: string[] = []
      const targets: PeerId[] = []
      for (const peer of closest) {
        const response = lookup.responses.get(peer.toString())
        const theirs = response?.kind === 'record' ? decodeRecordEnvelope(response.value) : undefined
        // kad-dht's own lookup already sent the best record it saw to holders of an older one.
        if ((theirs != null && compareRecords(theirs, mine) >= 0) || lookup.correctedByKad.has(peer.toString())) upToDate.push(peer.toString())
        else targets.push(peer)
      }
      const stored: string[] = []
      const failed: ReplicateResult['failed'] = []
      await Promise.all(targets.map(async (peer) => {
        try {
          if (await this.kad.putValueTo(peer, keyBytes, value, { signal: options.signal, onEvent: counted.report })) stored.push(peer.toString())
          else failed.push({ peer: peer.toString(), reason: 'did not store the record' })
        } catch (err) {
          options.signal.throwIfAborted()
          failed.push({ peer: peer.toString(), reason: (err as Error).message })
        }
      }))
      const result = { key, queryId: query.id, asked: answered.size, upToDate, stored, failed, messages, bytesSent: value.byteLength * targets.length, durationMs: query.elapsed() }
      return { result, summary: `re-stored on ${stored.length} of ${closest.length} closest peers (${upToDate.length} up to date${failed.length > 0 ? `, ${failed.length} failed` : ''})` }
    })
  }

  /** kad-dht FindPeer. */
  async findPeer (target: PeerId, options: DhtOperationOptions): Promise<FindPeerResult> {
    const notFound = `Peer ${target.toString()} was not found: no peer that was asked knows its addresses.`
    return await this.runQuery({ operation: 'find-peer', label: target.toString(), origin: 'user', targetKadId: kadIdOfPeer(target) }, options, async (query) => {
      let messagesSent = 0
      for await (const event of this.node.services.dht.findPeer(target, { signal: options.signal })) {
        query.report(event)
        if (event.name === 'SEND_QUERY') messagesSent++
        if (event.name === 'FINAL_PEER' && event.peer.id.equals(target) && event.peer.multiaddrs.length > 0) {
          const result = { peerId: target.toString(), addresses: event.peer.multiaddrs, answeredBy: event.from.toString(), queryId: query.id, messagesSent, durationMs: query.elapsed() }
          return { result, summary: `found ${event.peer.multiaddrs.length} address(es)` }
        }
      }
      throw new PeerNotFoundError(this.kad.routingTable.size === 0 ? NO_PEERS : notFound)
    }, (err) => {
      // kad-dht ends a lookup that never met the peer with NotFoundError('Not found').
      if (isNoPeersFailure(err, this.kad)) return new PeerNotFoundError(NO_PEERS)
      return (err as Error)?.name === 'NotFoundError' ? new PeerNotFoundError(notFound) : err
    })
  }

  /** The k peers closest to a record key, by an iterative lookup. */
  async closestPeers (keyInput: string, options: DhtOperationOptions): Promise<ClosestPeersResult> {
    const { key } = parseRecordKey(keyInput)
    return await this.lookupClosestPeers(fromString(key), key, { ...options, origin: 'user' })
  }

  /** The k peers closest to any key (a peer's multihash, random bytes). */
  async lookupClosestPeers (keyBytes: Uint8Array, label: string, options: DhtOperationOptions & { origin?: 'user' | 'scheduler' }): Promise<ClosestPeersResult> {
    return await this.runQuery({ operation: 'closest-peers', label, origin: options.origin ?? 'scheduler', targetKadId: kadIdOfKey(keyBytes) }, options, async (query) => {
      const peers: string[] = []
      for await (const event of this.node.services.dht.getClosestPeers(keyBytes, { signal: options.signal })) {
        query.report(event)
        if (event.name === 'FINAL_PEER') peers.push(event.peer.id.toString())
      }
      return { result: { key: label, peers, queryId: query.id, durationMs: query.elapsed() }, summary: `${peers.length} closest peer(s)` }
    })
  }

  /**
   * The lookup behind Get. `repair: false` skips correcting and caching (a Put is about to
   * replace the record anyway); `answered` collects every peer that answered GET_VALUE, with or
   * without a record, so a Put can store on the closest of them without a second lookup.
   */
  private async findValue (keyInput: string, options: GetOptions, internal: { repair: boolean, answered: Set<string> }): Promise<GetResult> {
    const { key } = parseRecordKey(keyInput)
    const keyBytes = fromString(key)
    return await this.runQuery({ operation: 'get', label: options.label ?? key, origin: 'user', targetKadId: kadIdOfKey(keyBytes) }, options, async (query) => {
      const lookup = await this.lookupValue(keyBytes, options, query, internal.answered)
      const { valid, invalid } = sortResponses(lookup.responses)
      if (valid.length === 0) throw this.noValidRecord(key, lookup, invalid.length)
      const best = valid[selectRecord(keyBytes, valid.map(entry => entry.value))] ?? valid[0]
      if (best == null) throw new RecordNotFoundError(`No record under ${key}.`, 'no-record')
      const holders = valid.filter(entry => equals(entry.value, best.value)).map(entry => entry.peer)
      const stale = [...valid.filter(entry => !equals(entry.value, best.value)).map(entry => ({ peer: entry.peer, sequence: entry.record.sequence })),
        ...invalid.map(entry => ({ peer: entry.peer, sequence: -1n }))]
      const outdated = await this.correctStaleHolders(keyBytes, best.value, stale, lookup.correctedByKad, internal.repair, options.signal)
      const cachedOn = internal.repair ? await this.cacheOnClosestLacking(keyBytes, best.value, lookup, options.signal) : undefined

      const summary = `sequence ${best.record.sequence} from ${holders.length} holder(s)` +
        (outdated.length > 0 ? `, ${outdated.filter(entry => entry.corrected).length}/${outdated.length} outdated corrected` : '') +
        (invalid.length > 0 ? `, ${invalid.length} invalid` : '') +
        (cachedOn != null ? ', cached on the closest peer without it' : '')
      const result = { key, record: best.record, queryId: query.id, holders, outdated, invalid, cachedOn, stoppedAtQuorum: lookup.stoppedAtQuorum, durationMs: query.elapsed() }
      return { result, summary }
    })
  }

  /** Runs kad-dht's FIND_VALUE lookup, validating every record heard, until it ends or the quorum is met. */
  private async lookupValue (keyBytes: Uint8Array, options: GetOptions, query: RunningQuery, answered: Set<string>): Promise<ValueLookup> {
    const quorum = Math.max(0, Math.floor(options.quorum ?? 0))
    const found: ValueLookup = { responses: new Map(), observed: new Map(), correctedByKad: new Set(), failed: new Set(), queriedPeers: 0, stoppedAtQuorum: false }
    const validations: Array<Promise<void>> = []
    const lookup = new AbortController()
    const stop = (): void => { lookup.abort(options.signal.reason) }
    options.signal.addEventListener('abort', stop, { once: true })
    const self = this.node.peerId.toString()

    const consider = (from: string, value: Uint8Array | undefined): void => {
      if (value == null) {
        if (!found.responses.has(from)) found.responses.set(from, { kind: 'none' })
        return
      }
      validations.push(validateRecord(keyBytes, value).then(
        (record) => { found.responses.set(from, { kind: 'record', record, value }) },
        (err: unknown) => { found.responses.set(from, { kind: 'invalid', reason: (err as Error).message }) }
      ).then(() => {
        const valid = [...found.responses.values()].filter(response => response.kind === 'record').length
        if (quorum > 0 && valid >= quorum && !lookup.signal.aborted) {
          found.stoppedAtQuorum = true
          lookup.abort()
        }
      }))
    }

    // onProgress also receives dial and stream progress; a throw here would fail kad-dht's query.
    const onProgress = (progress: { type: string, detail?: unknown }): void => {
      const event = kadQueryEventOf(progress)
      if (event == null) return
      query.report(event)
      if (event.name === 'SEND_QUERY' && event.messageName === 'GET_VALUE') found.queriedPeers++
      if (event.name === 'PEER_RESPONSE' && event.messageName === 'GET_VALUE') {
        answered.add(event.from.toString())
        for (const peer of event.closer) found.observed.set(peer.id.toString(), peer.id)
        consider(event.from.toString(), event.record?.value)
      }
      if (event.name === 'PEER_RESPONSE' && event.messageName === 'PUT_VALUE') found.correctedByKad.add(event.from.toString())
      if (event.name === 'QUERY_ERROR') found.failed.add(event.from.toString())
      if (event.name === 'VALUE' && event.from.toString() === self) consider(self, event.value)
    }

    try {
      // Every event also arrives through onProgress, which sees outdated values too.
      for await (const _event of this.node.services.dht.get(keyBytes, { signal: lookup.signal, onProgress })) { /* drain */ }
    } catch (err) {
      // Ending early on quorum aborts the lookup; kad-dht also throws when a correction fails.
      if (!found.stoppedAtQuorum && options.signal.aborted) throw err
      if (!found.stoppedAtQuorum && !isCorrectionFailure(err)) {
        if (isNoPeersFailure(err, this.kad)) throw new RecordNotFoundError(NO_PEERS, 'no-peers')
        throw err
      }
    } finally {
      options.signal.removeEventListener('abort', stop)
    }
    await Promise.all(validations)
    return found
  }

  private noValidRecord (key: string, lookup: ValueLookup, invalidCount: number): RecordNotFoundError {
    const peersAsked = lookup.queriedPeers + lookup.responses.size
    if (peersAsked === 0 && this.kad.routingTable.size === 0) return new RecordNotFoundError(NO_PEERS, 'no-peers')
    return new RecordNotFoundError(invalidCount > 0
      ? `No valid record under ${key}: ${invalidCount} peer(s) returned records that failed validation.`
      : `No record under ${key} (asked ${Math.max(lookup.queriedPeers, lookup.responses.size)} peer(s)).`, 'no-record')
  }

  /** Sends the best record to holders of an outdated (or invalid) one, unless kad-dht already did. */
  private async correctStaleHolders (key: Uint8Array, best: Uint8Array, stale: Array<{ peer: string, sequence: bigint }>, correctedByKad: Set<string>, repair: boolean, signal: AbortSignal): Promise<GetResult['outdated']> {
    const self = this.node.peerId.toString()
    const outdated: GetResult['outdated'] = []
    await Promise.all(stale.map(async ({ peer, sequence }) => {
      let corrected = correctedByKad.has(peer)
      if (!corrected && peer !== self && repair) corrected = await this.sendRecord(peer, key, best, signal)
      if (sequence >= 0n) outdated.push({ peer, sequence, corrected })
    }))
    return outdated
  }

  /**
   * Kademlia caching (§2.3): "the requesting node stores the pair at the closest node it observed
   * to the key that did not return the value": among the peers that answered without it and the
   * peers the answers named but the lookup never asked (it stopped once the k closest answered).
   * A peer that was asked and failed to answer is left out: it may hold the record, and it may be
   * unreachable.
   */
  private async cacheOnClosestLacking (key: Uint8Array, best: Uint8Array, lookup: ValueLookup, signal: AbortSignal): Promise<string | undefined> {
    const self = this.node.peerId.toString()
    const candidates = new Map<string, PeerId>()
    for (const [peer, response] of lookup.responses) {
      const peerId = response.kind === 'none' ? lookup.observed.get(peer) ?? this.node.getPeers().find(candidate => candidate.toString() === peer) : undefined
      if (peerId != null) candidates.set(peer, peerId)
    }
    for (const [peer, peerId] of lookup.observed) if (!lookup.responses.has(peer) && !lookup.failed.has(peer)) candidates.set(peer, peerId)
    candidates.delete(self)
    const target = kadIdOfKey(key)
    const ranked = [...candidates.values()].sort((a, b) => compareDistances(xorDistance(kadIdOfPeer(a), target), xorDistance(kadIdOfPeer(b), target)))
    for (const peer of ranked.slice(0, 2)) {
      // The closest first; if it cannot be reached, the next one.
      if (await this.sendRecord(peer.toString(), key, best, signal)) return peer.toString()
    }
    return undefined
  }

  /**
   * Stores the record here and on the closest of the peers a Put's read reached: that read was
   * an iterative lookup towards the same key, so they include the k closest.
   */
  private async storeOnClosest (key: Uint8Array, value: Uint8Array, answered: Set<string>, query: RunningQuery, signal: AbortSignal): Promise<Pick<PutResult, 'accepted' | 'failed'>> {
    const accepted = new Set<string>()
    const targets = new Set<string>()
    const errors = new Map<string, string>()
    const onEvent = (event: QueryEvent): void => {
      query.report(event)
      if (event.name === 'FINAL_PEER') targets.add(event.peer.id.toString())
      if (event.name === 'PEER_RESPONSE' && event.messageName === 'PUT_VALUE') accepted.add(event.from.toString())
      if (event.name === 'QUERY_ERROR') errors.set(event.from.toString(), event.error?.message ?? 'error')
    }
    const closest = this.closestTo(kadIdOfKey(key), answered, this.kad.routingTable.kBucketSize)
    if (closest.length > 0) {
      // Stored here and sent out at once (kad-dht's put stores locally first, then looks up).
      await Promise.all([this.kad.storeLocally(key, value, { signal }), ...closest.map(async peer => {
        onEvent(finalPeerEvent(this.node.peerId, peer))
        if (await this.kad.putValueTo(peer, key, value, { signal, onEvent })) return
        // It answered, but without echoing the record back: not stored.
        accepted.delete(peer.toString())
        if (!errors.has(peer.toString())) errors.set(peer.toString(), 'did not store the record')
      })])
      signal.throwIfAborted()
    } else {
      // Nobody answered the read (e.g. every peer joined since): kad-dht's own put looks them up.
      for await (const event of this.node.services.dht.put(key, value, { signal })) onEvent(event)
    }
    const failed = [...targets].filter(peer => !accepted.has(peer)).map(peer => ({ peer, reason: errors.get(peer) ?? 'no answer' }))
    return { accepted: [...accepted], failed }
  }

  /**
   * Reports a query's start and end around `work` as progress events. `mapError` turns a
   * library error into webkad's before it is reported and thrown.
   */
  private async runQuery<T> (start: Omit<DhtQueryStart, 'queryId'>, options: DhtOperationOptions, work: (query: RunningQuery) => Promise<{ result: T, summary: string }>, mapError: (err: unknown) => unknown = err => err): Promise<T> {
    const queryId = newQueryId()
    const started = performance.now()
    const emit = options.onProgress ?? (() => {})
    const query: RunningQuery = {
      id: queryId,
      report: (event) => { emit(kadProgressEvent(event)) },
      elapsed: () => performance.now() - started
    }
    emit({ type: 'webkad:dht:query-start', detail: { ...start, queryId } })
    try {
      if (this.kad.routingTable.size === 0) {
        // Just after Connect the relay may not be in the table yet: wait for it rather than fail.
        emit({ type: 'webkad:dht:waiting-for-peer', detail: { queryId, timeoutMs: FIRST_PEER_TIMEOUT_MS } })
        await waitForRoutingTablePeer(this.kad, undefined, AbortSignal.any([options.signal, AbortSignal.timeout(FIRST_PEER_TIMEOUT_MS)])).catch((err: unknown) => {
          if (options.signal.aborted) throw err
        })
      }
      const { result, summary } = await work(query)
      emit({ type: 'webkad:dht:query-end', detail: { queryId, status: 'done', summary, durationMs: query.elapsed() } })
      return result
    } catch (err) {
      const error = mapError(err)
      emit({ type: 'webkad:dht:query-end', detail: { queryId, ...describeQueryFailure(error, options.signal), durationMs: query.elapsed() } })
      throw error
    }
  }

  private async sendRecord (peer: string, key: Uint8Array, value: Uint8Array, signal: AbortSignal): Promise<boolean> {
    const peerId = this.node.getPeers().find(candidate => candidate.toString() === peer) ??
      (await this.node.peerStore.all()).find(candidate => candidate.id.toString() === peer)?.id
    if (peerId == null) return false
    try {
      return await this.kad.putValueTo(peerId, key, value, { signal: AbortSignal.any([signal, AbortSignal.timeout(5000)]) })
    } catch (err) {
      log('could not send record to %s - %e', peer, err)
      return false
    }
  }

  /**
   * The `count` peers closest to `target` among `peers` (that answered this node: their
   * connection may since have been pruned, kad-dht dials them again).
   */
  private closestTo (target: Uint8Array, peers: Iterable<string>, count: number): PeerId[] {
    const known = new Map(this.node.getPeers().map(peer => [peer.toString(), peer]))
    return [...peers].flatMap(peer => {
      const peerId = known.get(peer) ?? parsePeerId(peer)
      return peerId == null ? [] : [{ peerId, distance: xorDistance(kadIdOfPeer(peerId), target) }]
    })
      .sort((a, b) => compareDistances(a.distance, b.distance))
      .slice(0, count)
      .map(entry => entry.peerId)
  }
}

function parsePeerId (text: string): PeerId | undefined {
  try {
    return peerIdFromString(text)
  } catch {
    return undefined
  }
}

function sortResponses (responses: Map<string, HolderResponse>): { valid: Array<{ peer: string, record: WebkadRecord, value: Uint8Array }>, invalid: Array<{ peer: string, reason: string }> } {
  const entries = [...responses.entries()]
  return {
    valid: entries.flatMap(([peer, response]) => response.kind === 'record' ? [{ peer, record: response.record, value: response.value }] : []),
    invalid: entries.flatMap(([peer, response]) => response.kind === 'invalid' ? [{ peer, reason: response.reason }] : [])
  }
}

/** The event kad-dht emits for each of the k closest peers of a lookup, for a Put's trace. */
function finalPeerEvent (from: PeerId, peer: PeerId): QueryEvent {
  return { name: 'FINAL_PEER', type: EventTypes.FINAL_PEER, from, peer: { id: peer, multiaddrs: [] }, path: { index: -1, queued: 0, running: 0, total: 0 } }
}

function isCorrectionFailure (err: unknown): boolean {
  return (err as Error)?.name === 'QueryError'
}

function isNoPeersFailure (err: unknown, kad: KadInternals): boolean {
  return kad.routingTable.size === 0 && ['QueryError', 'NotFoundError'].includes((err as Error)?.name)
}
