import { Record as Libp2pRecord } from '@libp2p/kad-dht'
import { toString } from 'uint8arrays'
import { KAD_RECORD_PREFIX } from './kad-internals.ts'
import { RECORD_KEY_PREFIX, compareRecords, decodeRecordEnvelope } from './records.ts'
import type { SignedRecord } from './pb/record.ts'
import type { Datastore, Key } from 'interface-datastore'

/**
 * kad-dht's PUT handler stores any valid record it receives, so a lagging or hostile writer
 * could replace a newer record with an older one. This wraps a node's datastore so a webkad
 * record is only ever replaced by one the selector prefers: honest records are never replaced.
 */
export function guardRecords<D extends Datastore> (datastore: D): D {
  const put = datastore.put.bind(datastore)
  return new Proxy(datastore, {
    get (target, property, receiver) {
      if (property === 'put') {
        return async (key: Key, value: Uint8Array, options?: Parameters<Datastore['put']>[2]): Promise<Key> => {
          if (key.toString().startsWith(`${KAD_RECORD_PREFIX}/`) && !(await shouldReplace(target, key, value))) return key
          return await put(key, value, options)
        }
      }
      const member = Reflect.get(target, property, receiver) as unknown
      return typeof member === 'function' ? (member as (...args: unknown[]) => unknown).bind(target) : member
    }
  })
}

async function shouldReplace (datastore: Datastore, key: Key, value: Uint8Array): Promise<boolean> {
  const incoming = webkadEnvelope(value)
  if (incoming == null) return true
  let existing: SignedRecord | undefined
  try {
    existing = webkadEnvelope(await datastore.get(key))
  } catch {
    return true // nothing stored yet
  }
  if (existing == null || Number(existing.expiresAt) <= Date.now()) return true
  return compareRecords(incoming, existing) >= 0
}

function webkadEnvelope (stored: Uint8Array): SignedRecord | undefined {
  try {
    const record = Libp2pRecord.deserialize(stored)
    if (!toString(record.key).startsWith(RECORD_KEY_PREFIX)) return undefined
    return decodeRecordEnvelope(record.value)
  } catch {
    return undefined
  }
}
