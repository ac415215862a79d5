import { Record as Libp2pRecord } from '@libp2p/kad-dht'
import { Key } from 'interface-datastore'
import { toString } from 'uint8arrays'
import { KAD_RECORD_PREFIX } from './kad-internals.ts'
import { RECORD_KEY_PREFIX, isRecordExpired } from './records.ts'
import type { AbortOptions } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'

export interface SweepResult {
  kept: number
  removed: number
}

/**
 * Deletes expired webkad records a node holds. kad-dht itself only ages records out after
 * 36 h; webkad records carry their own expiry, and a holder must not keep serving dead ones.
 */
export async function sweepExpiredRecords (datastore: Datastore, options: AbortOptions & { now?: number } = {}): Promise<SweepResult> {
  const now = options.now ?? Date.now()
  const expired: Key[] = []
  let kept = 0
  for await (const { key, value } of datastore.query({ prefix: KAD_RECORD_PREFIX }, options)) {
    let record: Libp2pRecord
    try {
      record = Libp2pRecord.deserialize(value)
    } catch {
      expired.push(new Key(key.toString()))
      continue
    }
    // Only webkad records carry an expiry; other namespaces are left to kad-dht.
    if (!toString(record.key).startsWith(RECORD_KEY_PREFIX)) {
      kept++
      continue
    }
    if (isRecordExpired(record.value, now)) expired.push(new Key(key.toString()))
    else kept++
  }
  for (const key of expired) await datastore.delete(key, options)
  return { kept, removed: expired.length }
}
