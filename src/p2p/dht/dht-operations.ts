import { logger } from '@libp2p/logger'
import { equals, fromString } from 'uint8arrays'
import { InvalidRecordError, NoPeersError, PeerNotFoundError, RecordNotFoundError } from '../errors.ts'
import { kadInternals } from './kad-internals.ts'
import { compareDistances, kadIdOfKey, kadIdOfPeer, xorDistance } from './kad-math.ts'
import { createSignedRecord, parseRecordKey, selectRecord, validateRecord } from './records.ts'
import type { WebkadNode } from '../node.ts'
import type { QueryLog } from './query-trace.ts'
import type { RecordPayload, WebkadRecord } from './records.ts'
import type { KadInternals } from './kad-internals.ts'
import { EventTypes } from '@libp2p/kad-dht'
import type { QueryEvent } from '@libp2p/kad-dht'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

const log = logger('webkad:dht')

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

export interface GetOptions {
  signal: AbortSignal
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

/**
 * webkad's DHT operations on top of kad-dht: signed Put, Get with quorum, correction of
 * outdated holders and caching, FindPeer and closest-peers — each traced into the QueryLog.
 */
export class DhtOperations {
  private readonly node: WebkadNode
  private readonly privateKey: PrivateKey
  private readonly queryLog: QueryLog
  private readonly kad: KadInternals

  constructor (node: WebkadNode, privateKey: PrivateKey, queryLog: QueryLog) {
    this.node = node
    this.privateKey = privateKey
    this.queryLog = queryLog
    this.kad = kadInternals(node.services.dht)
  }

  /**
   * Signs `payload` under `key` with a sequence above any record the network holds for it
   * (read first), stores it locally and on the k closest peers.
   */
  async put (keyInput: string, payload: RecordPayload, options: { signal: AbortSignal, lifetimeMs?: number }): Promise<PutResult> {
    const startedAt = performance.now()
    const { key } = parseRecordKey(keyInput)
    const payloadBytes = payload.type === 'text' ? fromString(payload.text).byteLength : payload.bytes.byteLength
    if (payloadBytes === 0) throw new InvalidRecordError('The value is empty: enter some text or bytes to store.', 'malformed')
    const keyBytes = fromString(key)
    // Validate everything (size, owner) before any network work.
    await createSignedRecord(this.privateKey, this.node.peerId, { key, payload, sequence: 0n, lifetimeMs: options.lifetimeMs })
    if (this.kad.routingTable.size === 0) {
      throw new NoPeersError('There are no peers to store the record on (is the relay connected?).')
    }
    const answered = new Set<string>()
    const current = await this.findValue(key, { signal: options.signal, quorum: 0, label: `${key} (read before Put)` }, { repair: false, answered }).catch((err: unknown) => {
      if ((err as Error).name === 'RecordNotFoundError') return undefined
      throw err
    })
    const sequence = (current?.record.sequence ?? 0n) + 1n
    const value = await createSignedRecord(this.privateKey, this.node.peerId, { key, payload, sequence, lifetimeMs: options.lifetimeMs })

    const recorder = this.queryLog.begin('put', key, kadIdOfKey(keyBytes))
    const accepted = new Set<string>()
    const targets = new Set<string>()
    const errors = new Map<string, string>()
    const onEvent = (event: QueryEvent): void => {
      recorder.record(event)
      if (event.name === 'FINAL_PEER') targets.add(event.peer.id.toString())
      if (event.name === 'PEER_RESPONSE' && event.messageName === 'PUT_VALUE') accepted.add(event.from.toString())
      if (event.name === 'QUERY_ERROR') errors.set(event.from.toString(), event.error?.message ?? 'error')
    }
    // The read was an iterative lookup towards the same key, so the peers that answered it
    // include the k closest: store on those directly instead of looking them up again.
    const closest = this.closestTo(kadIdOfKey(keyBytes), answered, this.kad.routingTable.kBucketSize)
    try {
      if (closest.length > 0) {
        // Stored here and sent out at once (kad-dht's put stores locally first, then looks up).
        await Promise.all([this.kad.storeLocally(keyBytes, value, { signal: options.signal }), ...closest.map(async peer => {
          onEvent(finalPeerEvent(this.node.peerId, peer))
          const stored = await this.kad.putValueTo(peer, keyBytes, value, { signal: options.signal, onEvent })
          if (stored) return
          // It answered, but without echoing the record back: not stored.
          accepted.delete(peer.toString())
          if (!errors.has(peer.toString())) errors.set(peer.toString(), 'did not store the record')
        })])
        options.signal.throwIfAborted()
      } else {
        // Nobody answered the read (e.g. every peer joined since): kad-dht's own put looks them up.
        for await (const event of this.node.services.dht.put(keyBytes, value, { signal: options.signal })) onEvent(event as QueryEvent)
      }
    } catch (err) {
      if (isNoPeersFailure(err, this.kad)) {
        const error = new NoPeersError('Stored in this tab only: there are no peers to store the record on (is the relay connected?).')
        recorder.fail(error, options.signal)
        throw error
      }
      recorder.fail(err, options.signal)
      throw err
    }
    const failed = [...targets].filter(peer => !accepted.has(peer)).map(peer => ({ peer, reason: errors.get(peer) ?? 'no answer' }))
    const summary = `stored on ${accepted.size} of ${targets.size} closest peers (sequence ${sequence})`
    recorder.finish(summary)
    const expiresAt = (await validateRecord(keyBytes, value)).expiresAt
    // The whole Put, including the read of the current sequence.
    return { key, sequence, expiresAt, queryId: recorder.id, accepted: [...accepted], failed, durationMs: performance.now() - startedAt }
  }

  /**
   * Iterative FIND_VALUE. Picks the best valid record with webkad's selector, writes it back to
   * holders of an outdated one, and caches it on the closest peer that had none.
   */
  async get (keyInput: string, options: GetOptions): Promise<GetResult> {
    return await this.findValue(keyInput, options, { repair: true, answered: new Set() })
  }

  /**
   * The lookup behind Get. `repair: false` skips correcting and caching (a Put is about to
   * replace the record anyway); `answered` collects every peer that answered GET_VALUE, with or
   * without a record, so a Put can store on the closest of them without a second lookup.
   */
  private async findValue (keyInput: string, options: GetOptions, internal: { repair: boolean, answered: Set<string> }): Promise<GetResult> {
    const { key } = parseRecordKey(keyInput)
    const keyBytes = fromString(key)
    const quorum = Math.max(0, Math.floor(options.quorum ?? 0))
    const recorder = this.queryLog.begin('get', options.label ?? key, kadIdOfKey(keyBytes))
    const responses = new Map<string, HolderResponse>()
    const correctedByKad = new Set<string>()
    const validations: Array<Promise<void>> = []
    const lookup = new AbortController()
    const stop = (): void => { lookup.abort(options.signal.reason) }
    options.signal.addEventListener('abort', stop, { once: true })
    let stoppedAtQuorum = false
    let queriedPeers = 0
    const self = this.node.peerId.toString()

    const consider = (from: string, value: Uint8Array | undefined): void => {
      if (value == null) {
        if (!responses.has(from)) responses.set(from, { kind: 'none' })
        return
      }
      validations.push(validateRecord(keyBytes, value).then(
        (record) => { responses.set(from, { kind: 'record', record, value }) },
        (err: unknown) => { responses.set(from, { kind: 'invalid', reason: (err as Error).message }) }
      ).then(() => {
        const valid = [...responses.values()].filter(response => response.kind === 'record').length
        if (quorum > 0 && valid >= quorum && !lookup.signal.aborted) {
          stoppedAtQuorum = true
          lookup.abort()
        }
      }))
    }

    // onProgress also receives dial and stream progress; a throw here would fail kad-dht's query.
    const onProgress = (progress: CustomEvent<QueryEvent>): void => {
      if (!progress.type.startsWith('kad-dht:query:') || progress.detail == null) return
      const event = progress.detail
      recorder.record(event)
      if (event.name === 'SEND_QUERY' && event.messageName === 'GET_VALUE') queriedPeers++
      if (event.name === 'PEER_RESPONSE' && event.messageName === 'GET_VALUE') {
        internal.answered.add(event.from.toString())
        consider(event.from.toString(), event.record?.value)
      }
      if (event.name === 'PEER_RESPONSE' && event.messageName === 'PUT_VALUE') correctedByKad.add(event.from.toString())
      if (event.name === 'VALUE' && event.from.toString() === self) consider(self, event.value)
    }

    try {
      try {
        for await (const event of this.node.services.dht.get(keyBytes, { signal: lookup.signal, onProgress: onProgress as (event: unknown) => void })) {
          void event // every event also arrives through onProgress, which sees outdated values too
        }
      } catch (err) {
        // Ending early on quorum aborts the lookup; kad-dht also throws when a correction fails.
        if (!stoppedAtQuorum && options.signal.aborted) throw err
        if (!stoppedAtQuorum && !isCorrectionFailure(err)) {
          if (isNoPeersFailure(err, this.kad)) throw new RecordNotFoundError('No peers to ask: the routing table is empty (is the relay connected?).', 'no-peers')
          throw err
        }
      }
      await Promise.all(validations)

      const valid = [...responses.entries()].flatMap(([peer, response]) => response.kind === 'record' ? [{ peer, ...response }] : [])
      const invalid = [...responses.entries()].flatMap(([peer, response]) => response.kind === 'invalid' ? [{ peer, reason: response.reason }] : [])
      if (valid.length === 0) {
        const peersAsked = queriedPeers + responses.size
        if (peersAsked === 0 && this.kad.routingTable.size === 0) {
          throw new RecordNotFoundError('No peers to ask: the routing table is empty (is the relay connected?).', 'no-peers')
        }
        throw new RecordNotFoundError(invalid.length > 0
          ? `No valid record under ${key}: ${invalid.length} peer(s) returned records that failed validation.`
          : `No record under ${key} (asked ${Math.max(queriedPeers, responses.size)} peer(s)).`, 'no-record')
      }
      const best = valid[selectRecord(keyBytes, valid.map(entry => entry.value))] ?? valid[0]
      if (best == null) throw new RecordNotFoundError(`No record under ${key}.`, 'no-record')
      const holders = valid.filter(entry => equals(entry.value, best.value)).map(entry => entry.peer)

      // Correct holders of an outdated (or invalid) record, unless kad-dht already did.
      const stale = [...valid.filter(entry => !equals(entry.value, best.value)).map(entry => ({ peer: entry.peer, sequence: entry.record.sequence })),
        ...invalid.map(entry => ({ peer: entry.peer, sequence: -1n }))]
      const outdated: GetResult['outdated'] = []
      await Promise.all(stale.map(async ({ peer, sequence }) => {
        let corrected = correctedByKad.has(peer)
        if (!corrected && peer !== self && internal.repair) corrected = await this.sendRecord(peer, keyBytes, best.value, options.signal)
        if (sequence >= 0n) outdated.push({ peer, sequence, corrected })
      }))

      // Kademlia caching: the closest peer that answered without a record gets a copy.
      const lacking = [...responses.entries()].filter(([peer, response]) => response.kind === 'none' && peer !== self).map(([peer]) => peer)
      let cachedOn: string | undefined
      const closestLacking = internal.repair ? this.closestTo(kadIdOfKey(keyBytes), lacking, 1)[0] : undefined
      if (closestLacking != null && await this.sendRecord(closestLacking.toString(), keyBytes, best.value, options.signal)) cachedOn = closestLacking.toString()

      const summary = `sequence ${best.record.sequence} from ${holders.length} holder(s)` +
        (outdated.length > 0 ? `, ${outdated.filter(entry => entry.corrected).length}/${outdated.length} outdated corrected` : '') +
        (invalid.length > 0 ? `, ${invalid.length} invalid` : '') +
        (cachedOn != null ? ', cached on the closest peer without it' : '')
      const durationMs = recorder.finish(summary)
      return {
        key, record: best.record, queryId: recorder.id, holders, outdated, invalid, cachedOn, stoppedAtQuorum, durationMs
      }
    } catch (err) {
      recorder.fail(err, options.signal)
      throw err
    } finally {
      options.signal.removeEventListener('abort', stop)
    }
  }

  /** kad-dht FindPeer, traced. */
  async findPeer (target: PeerId, options: { signal: AbortSignal }): Promise<FindPeerResult> {
    const recorder = this.queryLog.begin('find-peer', target.toString(), kadIdOfPeer(target))
    try {
      let found: { addresses: Multiaddr[], from: string } | undefined
      let messagesSent = 0
      for await (const event of this.node.services.dht.findPeer(target, { signal: options.signal })) {
        recorder.record(event)
        if (event.name === 'SEND_QUERY') messagesSent++
        if (event.name === 'FINAL_PEER' && event.peer.id.equals(target) && event.peer.multiaddrs.length > 0) {
          found = { addresses: event.peer.multiaddrs, from: event.from.toString() }
          break
        }
      }
      if (found == null) {
        throw new PeerNotFoundError(this.kad.routingTable.size === 0
          ? 'No peers to ask: the routing table is empty (is the relay connected?).'
          : `Peer ${target.toString()} was not found: no peer that was asked knows its addresses.`)
      }
      const durationMs = recorder.finish(`found ${found.addresses.length} address(es)`)
      return { peerId: target.toString(), addresses: found.addresses, answeredBy: found.from, queryId: recorder.id, messagesSent, durationMs }
    } catch (err) {
      // kad-dht ends a lookup that never met the peer with NotFoundError('Not found').
      const error = isNoPeersFailure(err, this.kad)
        ? new PeerNotFoundError('No peers to ask: the routing table is empty (is the relay connected?).')
        : (err as Error)?.name === 'NotFoundError'
            ? new PeerNotFoundError(`Peer ${target.toString()} was not found: no peer that was asked knows its addresses.`)
            : err
      recorder.fail(error, options.signal)
      throw error
    }
  }

  /** The k peers closest to a record key, by an iterative lookup. */
  async closestPeers (keyInput: string, options: { signal: AbortSignal }): Promise<ClosestPeersResult> {
    const { key } = parseRecordKey(keyInput)
    return { ...await this.lookupClosestPeers(fromString(key), key, { signal: options.signal, origin: 'user' }), key }
  }

  /** The k peers closest to any key (a peer's multihash, random bytes), traced. */
  async lookupClosestPeers (keyBytes: Uint8Array, label: string, options: { signal: AbortSignal, origin?: 'user' | 'scheduler' }): Promise<ClosestPeersResult> {
    const recorder = this.queryLog.begin('closest-peers', label, kadIdOfKey(keyBytes), options.origin ?? 'scheduler')
    try {
      const peers: string[] = []
      for await (const event of this.node.services.dht.getClosestPeers(keyBytes, { signal: options.signal })) {
        recorder.record(event)
        if (event.name === 'FINAL_PEER') peers.push(event.peer.id.toString())
      }
      const durationMs = recorder.finish(`${peers.length} closest peer(s)`)
      return { key: label, peers, queryId: recorder.id, durationMs }
    } catch (err) {
      recorder.fail(err, options.signal)
      throw err
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

  /** The `count` peers closest to `target` among `peers` this node is connected to. */
  private closestTo (target: Uint8Array, peers: Iterable<string>, count: number): PeerId[] {
    const known = new Map(this.node.getPeers().map(peer => [peer.toString(), peer]))
    return [...peers].flatMap(peer => {
      const peerId = known.get(peer)
      return peerId == null ? [] : [{ peerId, distance: xorDistance(kadIdOfPeer(peerId), target) }]
    })
      .sort((a, b) => compareDistances(a.distance, b.distance))
      .slice(0, count)
      .map(entry => entry.peerId)
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
