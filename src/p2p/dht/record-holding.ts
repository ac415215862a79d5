import { Record as Libp2pRecord } from '@libp2p/kad-dht'
import { Key } from 'interface-datastore'
import { equals, fromString, toString } from 'uint8arrays'
import { RecordStoreLimitError } from '../errors.ts'
import { createCoalescedStore } from '../stores/store.ts'
import { TokenBuckets } from '../token-buckets.ts'
import { KAD_RECORD_PREFIX } from './kad-internals.ts'
import { compareDistances, kadIdOfKey, kadIdOfPeer, xorDistance } from './kad-math.ts'
import { RECORD_KEY_PREFIX, compareRecords, decodeRecordEnvelope } from './records.ts'
import { peerIdFromMultihash } from '@libp2p/peer-id'
import * as Digest from 'multiformats/hashes/digest'
import type { KadInternals } from './kad-internals.ts'
import type { SignedRecord } from './pb/record.ts'
import type { CoalescedStore } from '../stores/store.ts'
import type { AbortOptions, PeerId } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'

/**
 * How a held record arrived. `own`: this node stored it itself (its own Put); `author`: a PUT from
 * the record's author; `copy`: a PUT from another peer while this node is among the k closest it
 * knows (holder replication, or a Get correcting a stale holder); `cache`: a PUT from another peer
 * while at least k known peers are closer to the key (Kademlia's caching after a Get).
 */
export type RecordArrival = 'own' | 'author' | 'copy' | 'cache'

/** What a node knows about one record it holds (kept beside the record, as JSON). */
export interface HeldRecord {
  /** The record key, `/webkad/…`. */
  key: string
  author: string
  sequence: bigint
  /** The record's own expiry, set and signed by its author. */
  expiresAt: number
  /** When this node drops it: `expiresAt`, or sooner for a cached copy (see cachedLifetime). */
  keepUntil: number
  arrival: RecordArrival
  /** The peer that sent it (absent for `own`). */
  from?: string
  /** When it last arrived (any PUT of the same or a newer record renews this). */
  receivedAt: number
  /** Known peers closer to the key than this node when it arrived. */
  closerPeers: number
  /** When this node last replicated it to the current k closest. */
  replicatedAt?: number
  /** Bytes of the stored record. */
  bytes: number
}

export interface HeldRecordsSnapshot {
  records: readonly HeldRecord[]
  counts: Record<RecordArrival, number>
  bytes: number
}

export interface RecordHoldingInit {
  /** This node: a record it stores itself arrives as `own`. */
  self: PeerId
  /** Records one peer may store here per second, and in a burst (PUTs of replication count too). */
  perPeerRate?: number
  perPeerBurst?: number
  /** The most records this node holds; PUTs of new keys beyond it are refused. */
  maxRecords?: number
  now?(): number
}

/** Where a node stands towards a key: how many known peers are closer to it, and k. */
export type KeyPosition = (key: Uint8Array) => { closerPeers: number, k: number }

export const HOLDING_PREFIX = '/webkad-holding'
const DEFAULTS = { perPeerRate: 5, perPeerBurst: 50, maxRecords: 10_000 }

/**
 * A cached copy's lifetime (Kademlia §2.5: "exponentially inversely proportional to the number of
 * nodes between the current node and the node whose ID is closest to the key"). With `closer`
 * known peers closer to the key than this node and bucket size k: among the k closest (closer < k)
 * it keeps the record until its own expiry; beyond, each further peer halves the remaining time:
 * keepUntil = receivedAt + (expiresAt − receivedAt) / 2^(closer − k + 1). Never past expiresAt.
 */
export function cachedKeepUntil (receivedAt: number, expiresAt: number, closerPeers: number, k: number): number {
  if (closerPeers < k) return expiresAt
  const remaining = Math.max(0, expiresAt - receivedAt)
  return Math.min(expiresAt, receivedAt + Math.floor(remaining / 2 ** (closerPeers - k + 1)))
}

/**
 * The layer between kad-dht and a node's datastore for webkad records: it keeps the better record
 * (a lagging or hostile writer cannot replace a newer one with an older one), limits how many
 * records each peer may store here, notes how each record arrived and until when it is kept, and
 * drops records past that time. Everything else passes through untouched.
 */
export class RecordHolding {
  readonly datastore: Datastore
  readonly held: CoalescedStore<HeldRecordsSnapshot>
  private readonly base: Datastore
  private readonly index = new Map<string, HeldRecord>()
  private readonly limits: TokenBuckets
  private readonly maxRecords: number
  private readonly self: PeerId
  private readonly now: () => number
  private position: KeyPosition = () => ({ closerPeers: 0, k: Number.POSITIVE_INFINITY })
  /** Bytes of records and notes this layer wrote (the simulation reports the cost of replication). */
  bytesWritten = 0

  constructor (datastore: Datastore, init: RecordHoldingInit) {
    this.base = datastore
    this.self = init.self
    this.now = init.now ?? (() => Date.now())
    this.maxRecords = init.maxRecords ?? DEFAULTS.maxRecords
    this.limits = new TokenBuckets(init.perPeerRate ?? DEFAULTS.perPeerRate, init.perPeerBurst ?? DEFAULTS.perPeerBurst, { maxKeys: 10_000, now: this.now })
    this.held = createCoalescedStore(() => this.snapshot(), 100)
    const put = this.put.bind(this)
    const remove = this.remove.bind(this)
    this.datastore = new Proxy(datastore, {
      get (target, property, receiver) {
        if (property === 'put') return put
        if (property === 'delete') return remove
        const member = Reflect.get(target, property, receiver) as unknown
        return typeof member === 'function' ? (member as (...args: unknown[]) => unknown).bind(target) : member
      }
    })
  }

  /**
   * Lets the layer see the peers this node knows (its routing table, and the peers it is connected
   * to: in a small network buckets of size k drop some), to tell a held copy from a cached one.
   */
  attach (kad: Pick<KadInternals, 'routingTablePeers' | 'localKadId' | 'routingTable'>, connected: () => PeerId[] = () => []): void {
    const kadIds = new Map<string, Uint8Array>()
    const kadIdOf = (peer: PeerId): Uint8Array => {
      const text = peer.toString()
      let id = kadIds.get(text)
      if (id == null) {
        if (kadIds.size > 10_000) kadIds.clear()
        id = kadIdOfPeer(peer)
        kadIds.set(text, id)
      }
      return id
    }
    this.position = (key) => {
      const target = kadIdOfKey(key)
      const own = xorDistance(kad.localKadId(), target)
      const known = new Map<string, Uint8Array>()
      for (const peer of kad.routingTablePeers()) known.set(peer.peerId.toString(), peer.kadId)
      for (const peer of connected()) if (!known.has(peer.toString())) known.set(peer.toString(), kadIdOf(peer))
      let closerPeers = 0
      for (const id of known.values()) if (compareDistances(xorDistance(id, target), own) < 0) closerPeers++
      return { closerPeers, k: kad.routingTable.kBucketSize }
    }
  }

  /** Reads what the datastore holds (after a reload): drops what is past its time, notes the rest. */
  async load (options: AbortOptions = {}): Promise<{ kept: number, removed: number }> {
    this.index.clear()
    for await (const { key, value } of this.base.query({ prefix: HOLDING_PREFIX }, options)) {
      const info = parseHeld(value)
      if (info == null) await this.base.delete(new Key(key.toString()), options)
      else this.index.set(info.key, info)
    }
    // Records without a note (stored before notes existed): held as copies until they expire.
    for await (const { value } of this.base.query({ prefix: KAD_RECORD_PREFIX }, options)) {
      const parsed = webkadRecordOf(value)
      if (parsed == null || this.index.has(parsed.key)) continue
      const info = heldFrom(parsed, { arrival: 'copy', receivedAt: this.now(), closerPeers: 0, keepUntil: Number(parsed.envelope.expiresAt), bytes: value.byteLength })
      this.index.set(info.key, info)
      await this.base.put(holdingKey(info.key), encodeHeld(info), options)
    }
    const result = await this.sweep(options)
    this.held.flush()
    return result
  }

  /** Deletes records past their keep-until time (expired, or cached copies that ran out). */
  async sweep (options: AbortOptions & { now?: number } = {}): Promise<{ kept: number, removed: number }> {
    const now = options.now ?? this.now()
    let removed = 0
    for await (const { key, value } of this.base.query({ prefix: KAD_RECORD_PREFIX }, options)) {
      const parsed = webkadRecordOf(value)
      let drop = false
      if (parsed == null) {
        // Only webkad records carry an expiry; other namespaces are left to kad-dht, but an
        // undecodable record under the prefix is junk.
        drop = !isOtherNamespace(value)
      } else {
        const info = this.index.get(parsed.key)
        drop = Number(parsed.envelope.expiresAt) <= now || (info != null && info.keepUntil <= now)
      }
      if (drop) {
        await this.remove(new Key(key.toString()), options)
        removed++
      }
    }
    for (const info of [...this.index.values()]) {
      if (info.keepUntil <= now || info.expiresAt <= now) {
        this.index.delete(info.key)
        await this.base.delete(holdingKey(info.key), options)
      }
    }
    this.held.invalidate()
    return { kept: this.index.size, removed }
  }

  /** The records held now, with their notes and bytes. */
  records (): HeldRecord[] {
    return [...this.index.values()]
  }

  /** Notes that this node replicated `key` to the current k closest. */
  async markReplicated (key: string, at = this.now()): Promise<void> {
    const info = this.index.get(key)
    if (info == null) return
    const next = { ...info, replicatedAt: at }
    this.index.set(key, next)
    await this.base.put(holdingKey(key), encodeHeld(next))
    this.held.invalidate()
  }

  /** Deletes every record this node holds, with the notes. */
  async clear (options: AbortOptions = {}): Promise<number> {
    const keys: Key[] = []
    for await (const key of this.base.queryKeys({ prefix: KAD_RECORD_PREFIX }, options)) keys.push(new Key(key.toString()))
    for await (const key of this.base.queryKeys({ prefix: HOLDING_PREFIX }, options)) keys.push(new Key(key.toString()))
    for (const key of keys) await this.base.delete(key, options)
    this.index.clear()
    this.held.flush()
    return keys.length
  }

  private snapshot (): HeldRecordsSnapshot {
    const records = [...this.index.values()].sort((a, b) => a.key.localeCompare(b.key))
    const counts: Record<RecordArrival, number> = { own: 0, author: 0, copy: 0, cache: 0 }
    let bytes = 0
    for (const record of records) {
      counts[record.arrival]++
      bytes += record.bytes
    }
    return { records, counts, bytes }
  }

  private async put (key: Key, value: Uint8Array, options?: AbortOptions & { from?: PeerId }): Promise<Key> {
    if (!key.toString().startsWith(`${KAD_RECORD_PREFIX}/`)) return await this.base.put(key, value, options)
    const parsed = webkadRecordOf(value)
    if (parsed == null) return await this.base.put(key, value, options)
    const from = options?.from
    if (from != null && !from.equals(this.self)) {
      const waitMs = this.limits.tryTake(from.toString())
      if (waitMs > 0) throw new RecordStoreLimitError(`${from.toString()} stores records faster than the per-peer limit; try again in ${waitMs} ms.`, 'rate')
    }
    const existing = this.index.get(parsed.key)
    if (existing == null && this.index.size >= this.maxRecords) {
      throw new RecordStoreLimitError(`This node holds ${this.maxRecords} records, its maximum.`, 'capacity')
    }
    const stored = await this.readEnvelope(key, options)
    const now = this.now()
    if (stored != null && Number(stored.expiresAt) > now && compareRecords(parsed.envelope, stored) < 0) return key // keep the better record
    const sameRecord = stored != null && equals(stored.signature, parsed.envelope.signature)
    await this.base.put(key, value, options)
    this.bytesWritten += value.byteLength
    const info = this.arrivalOf(parsed, from, now, value.byteLength)
    // The same record again renews when it arrived (the replication task skips it), but never
    // turns a held copy into a shorter-lived cache or moves its keep-until time back.
    const next = sameRecord && existing != null
      ? { ...existing, receivedAt: now, ...(rank(info.arrival) > rank(existing.arrival) || info.keepUntil > existing.keepUntil ? { arrival: info.arrival, keepUntil: Math.max(info.keepUntil, existing.keepUntil), from: info.from, closerPeers: info.closerPeers } : {}) }
      : info
    this.index.set(next.key, next)
    const note = encodeHeld(next)
    await this.base.put(holdingKey(next.key), note, options)
    this.bytesWritten += note.byteLength
    this.held.invalidate()
    return key
  }

  private async remove (key: Key, options?: AbortOptions): Promise<void> {
    if (key.toString().startsWith(`${KAD_RECORD_PREFIX}/`)) {
      const name = recordNameOfKey(key)
      if (name != null && this.index.delete(name)) {
        await this.base.delete(holdingKey(name), options)
        this.held.invalidate()
      }
    }
    await this.base.delete(key, options)
  }

  private arrivalOf (parsed: ParsedRecord, from: PeerId | undefined, now: number, bytes: number): HeldRecord {
    const expiresAt = Number(parsed.envelope.expiresAt)
    if (from == null || from.equals(this.self)) return heldFrom(parsed, { arrival: 'own', receivedAt: now, closerPeers: 0, keepUntil: expiresAt, bytes })
    const { closerPeers, k } = this.position(fromString(parsed.key))
    if (from.toString() === parsed.author) return heldFrom(parsed, { arrival: 'author', from: from.toString(), receivedAt: now, closerPeers, keepUntil: expiresAt, bytes })
    const arrival = closerPeers < k ? 'copy' : 'cache'
    return heldFrom(parsed, { arrival, from: from.toString(), receivedAt: now, closerPeers, keepUntil: cachedKeepUntil(now, expiresAt, closerPeers, k), bytes })
  }

  private async readEnvelope (key: Key, options?: AbortOptions): Promise<SignedRecord | undefined> {
    try {
      return webkadRecordOf(await this.base.get(key, options))?.envelope
    } catch {
      return undefined // nothing stored yet
    }
  }
}

interface ParsedRecord {
  key: string
  author: string
  envelope: SignedRecord
}

function rank (arrival: RecordArrival): number {
  return { cache: 0, copy: 1, author: 2, own: 3 }[arrival]
}

function heldFrom (parsed: ParsedRecord, rest: Pick<HeldRecord, 'arrival' | 'receivedAt' | 'closerPeers' | 'keepUntil' | 'bytes'> & { from?: string }): HeldRecord {
  return { key: parsed.key, author: parsed.author, sequence: parsed.envelope.sequence, expiresAt: Number(parsed.envelope.expiresAt), ...rest }
}

function webkadRecordOf (stored: Uint8Array): ParsedRecord | undefined {
  try {
    const record = Libp2pRecord.deserialize(stored)
    const key = toString(record.key)
    if (!key.startsWith(RECORD_KEY_PREFIX)) return undefined
    const envelope = decodeRecordEnvelope(record.value)
    return { key, author: peerIdFromMultihash(Digest.decode(envelope.author)).toString(), envelope }
  } catch {
    return undefined
  }
}

function isOtherNamespace (stored: Uint8Array): boolean {
  try {
    return !toString(Libp2pRecord.deserialize(stored).key).startsWith(RECORD_KEY_PREFIX)
  } catch {
    return false
  }
}

function holdingKey (recordKey: string): Key {
  return new Key(`${HOLDING_PREFIX}/${toString(fromString(recordKey), 'base32')}`, false)
}

function recordNameOfKey (key: Key): string | undefined {
  try {
    return toString(fromString(key.toString().slice(KAD_RECORD_PREFIX.length + 1), 'base32'))
  } catch {
    return undefined
  }
}

function encodeHeld (info: HeldRecord): Uint8Array {
  return fromString(JSON.stringify({ ...info, sequence: info.sequence.toString() }))
}

function parseHeld (bytes: Uint8Array): HeldRecord | undefined {
  try {
    const raw = JSON.parse(toString(bytes)) as Record<string, unknown>
    const arrival = raw.arrival
    if (typeof raw.key !== 'string' || !raw.key.startsWith(RECORD_KEY_PREFIX) || typeof raw.author !== 'string' ||
      typeof raw.sequence !== 'string' || !/^\d{1,20}$/.test(raw.sequence) ||
      typeof raw.expiresAt !== 'number' || typeof raw.keepUntil !== 'number' || typeof raw.receivedAt !== 'number' ||
      typeof raw.bytes !== 'number' || typeof raw.closerPeers !== 'number' ||
      (arrival !== 'own' && arrival !== 'author' && arrival !== 'copy' && arrival !== 'cache')) return undefined
    return {
      key: raw.key,
      author: raw.author,
      sequence: BigInt(raw.sequence),
      expiresAt: raw.expiresAt,
      keepUntil: Math.min(raw.keepUntil, raw.expiresAt),
      arrival,
      ...(typeof raw.from === 'string' ? { from: raw.from } : {}),
      receivedAt: raw.receivedAt,
      closerPeers: raw.closerPeers,
      ...(typeof raw.replicatedAt === 'number' ? { replicatedAt: raw.replicatedAt } : {}),
      bytes: raw.bytes
    }
  } catch {
    return undefined
  }
}
