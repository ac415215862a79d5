import { Record as Libp2pRecord } from '@libp2p/kad-dht'
import { fromString } from 'uint8arrays'
import { kadRecordKey } from './kad-internals.ts'
import type { DhtOperations } from './dht-operations.ts'
import type { DhtProgressEvent } from './dht-progress.ts'
import type { RecordHolding } from './record-holding.ts'

export interface ReplicationRound {
  /** Unexpired records held that are not cached copies. */
  records: number
  /** Of those, received (from any peer) within the interval: someone else replicated them (paper's optimisation). */
  skippedFresh: number
  /** Re-stored after a lookup. */
  replicated: number
  /** PUT_VALUEs that stored a record on a peer that lacked it or held an older one. */
  peersStored: number
  /** Closest peers found already up to date. */
  upToDate: number
  failed: number
  /** DHT requests sent (lookups and PUTs). */
  messages: number
  bytesSent: number
  /** Keys re-stored this round. */
  replicatedKeys: string[]
}

export interface ReplicationOptions {
  intervalMs: number
  signal: AbortSignal
  /** A fresh progress handler per record's lookup (the query log). */
  onProgress?: () => (event: DhtProgressEvent) => void
  now?: number
}

/**
 * One round of holder replication on a node (tab, relay or simulated): every unexpired record it
 * holds, except cached copies (they are meant to die) and records it received within the
 * interval, is re-stored on the current k closest peers to its key that lack it.
 */
export async function replicateHeldRecords (holding: RecordHolding, dht: DhtOperations, options: ReplicationOptions): Promise<ReplicationRound> {
  const now = options.now ?? Date.now()
  const round: ReplicationRound = { records: 0, skippedFresh: 0, replicated: 0, peersStored: 0, upToDate: 0, failed: 0, messages: 0, bytesSent: 0, replicatedKeys: [] }
  for (const held of holding.records()) {
    if (held.arrival === 'cache' || held.keepUntil <= now || held.expiresAt <= now) continue
    round.records++
    if (now - held.receivedAt < options.intervalMs || (held.replicatedAt != null && now - held.replicatedAt < options.intervalMs)) {
      round.skippedFresh++
      continue
    }
    options.signal.throwIfAborted()
    const keyBytes = fromString(held.key)
    let value: Uint8Array
    try {
      value = Libp2pRecord.deserialize(await holding.datastore.get(kadRecordKey(keyBytes), { signal: options.signal })).value
    } catch {
      continue // dropped meanwhile
    }
    try {
      const result = await dht.replicate(keyBytes, value, { signal: options.signal, onProgress: options.onProgress?.() })
      round.replicated++
      round.replicatedKeys.push(held.key)
      round.peersStored += result.stored.length
      round.upToDate += result.upToDate.length
      round.failed += result.failed.length
      round.messages += result.messages
      round.bytesSent += result.bytesSent
      await holding.markReplicated(held.key, now)
    } catch {
      options.signal.throwIfAborted()
      round.failed++
    }
  }
  return round
}

/** The Scheduler panel's line for a round. */
export function describeReplicationRound (round: ReplicationRound): string {
  if (round.records === 0) return 'no records held for others'
  return `${round.records} record(s): ${round.replicated} replicated to ${round.peersStored} peer(s) (${round.upToDate} up to date), ` +
    `${round.skippedFresh} received within the interval; ${round.messages} messages, ${round.bytesSent} bytes sent` +
    (round.failed > 0 ? `, ${round.failed} failed` : '')
}
