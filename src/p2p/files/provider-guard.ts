import { logger } from '@libp2p/logger'
import { RecordStoreLimitError } from '../errors.ts'
import { TokenBuckets } from '../token-buckets.ts'
import type { Datastore, Key } from 'interface-datastore'

const log = logger('webkad:files:provider-guard')

/** Where kad-dht keeps provider records: `/dht/provider/<multihash base32>/<provider peer ID>`. */
export const KAD_PROVIDER_PREFIX = '/dht/provider/'

export interface ProviderLimits {
  /** Provider records one peer may have here (one per file it provides). @default 256 */
  maxPerPeer?: number
  /** Providers kept for one CID (kad-dht answers with at most k = 20 anyway). @default 64 */
  maxPerKey?: number
  /** Provider records in all. @default 20000 */
  maxTotal?: number
  /** New provider records accepted per second from one peer. @default 10 */
  ratePerSecond?: number
  /** @default 50 */
  burst?: number
  /** This node's own records (its reprovider's) are not limited. */
  self?: string
}

/**
 * kad-dht stores every ADD_PROVIDER it receives (the provider must be the sender, nothing
 * else is checked). This wraps a node's datastore so a flooding peer is slowed (a rate per
 * peer) and what it floods is bounded (per peer, per CID, in all): a refused write fails that
 * ADD_PROVIDER only. Refreshing a record already held is always allowed.
 */
export function guardProviderRecords<D extends Datastore> (datastore: D, limits: ProviderLimits = {}): D {
  const maxPerPeer = limits.maxPerPeer ?? 256
  const maxPerKey = limits.maxPerKey ?? 64
  const maxTotal = limits.maxTotal ?? 20_000
  const rate = new TokenBuckets(limits.ratePerSecond ?? 10, limits.burst ?? 50, { maxKeys: 4096 })
  let counts: Promise<{ byPeer: Map<string, number>, byKey: Map<string, number>, total: number }> | undefined
  const load = async (): Promise<{ byPeer: Map<string, number>, byKey: Map<string, number>, total: number }> => {
    const byPeer = new Map<string, number>()
    const byKey = new Map<string, number>()
    let total = 0
    for await (const key of datastore.queryKeys({ prefix: KAD_PROVIDER_PREFIX })) {
      const parsed = parseProviderKey(key)
      if (parsed == null) continue
      byPeer.set(parsed.peer, (byPeer.get(parsed.peer) ?? 0) + 1)
      byKey.set(parsed.cid, (byKey.get(parsed.cid) ?? 0) + 1)
      total++
    }
    return { byPeer, byKey, total }
  }
  const put = datastore.put.bind(datastore)
  const del = datastore.delete.bind(datastore)
  const has = datastore.has.bind(datastore)
  return new Proxy(datastore, {
    get (target, property, receiver) {
      if (property === 'put') {
        return async (key: Key, value: Uint8Array, options?: Parameters<Datastore['put']>[2]): Promise<Key> => {
          const parsed = parseProviderKey(key)
          if (parsed == null || parsed.peer === limits.self || await has(key, options)) return await put(key, value, options)
          counts ??= load()
          const count = await counts
          if (rate.tryTake(parsed.peer) > 0) throw limitError(parsed.peer, 'rate', 'sends provider records faster than allowed')
          if ((count.byPeer.get(parsed.peer) ?? 0) >= maxPerPeer) throw limitError(parsed.peer, 'capacity', `has ${maxPerPeer} provider records here already`)
          if ((count.byKey.get(parsed.cid) ?? 0) >= maxPerKey || count.total >= maxTotal) throw limitError(parsed.peer, 'capacity', 'found the provider records full')
          const stored = await put(key, value, options)
          count.byPeer.set(parsed.peer, (count.byPeer.get(parsed.peer) ?? 0) + 1)
          count.byKey.set(parsed.cid, (count.byKey.get(parsed.cid) ?? 0) + 1)
          count.total++
          return stored
        }
      }
      if (property === 'delete') {
        return async (key: Key, options?: Parameters<Datastore['delete']>[1]): Promise<void> => {
          const parsed = parseProviderKey(key)
          if (parsed != null && counts != null && await has(key, options)) {
            const count = await counts
            count.byPeer.set(parsed.peer, Math.max(0, (count.byPeer.get(parsed.peer) ?? 1) - 1))
            count.byKey.set(parsed.cid, Math.max(0, (count.byKey.get(parsed.cid) ?? 1) - 1))
            count.total = Math.max(0, count.total - 1)
          }
          await del(key, options)
        }
      }
      const member = Reflect.get(target, property, receiver) as unknown
      return typeof member === 'function' ? (member as (...args: unknown[]) => unknown).bind(target) : member
    }
  })
}

function limitError (peer: string, reason: 'rate' | 'capacity', what: string): RecordStoreLimitError {
  log('refused a provider record from %s: %s', peer, what)
  return new RecordStoreLimitError(`${peer} ${what}`, reason)
}

function parseProviderKey (key: Key): { cid: string, peer: string } | undefined {
  const text = key.toString()
  if (!text.startsWith(KAD_PROVIDER_PREFIX)) return undefined
  const [cid, peer, ...rest] = text.slice(KAD_PROVIDER_PREFIX.length).split('/')
  if (cid == null || peer == null || rest.length > 0) return undefined
  return { cid, peer }
}
