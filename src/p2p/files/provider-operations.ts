import { NoPeersError, NoProvidersError } from '../errors.ts'
import { describeQueryFailure, kadProgressEvent, kadQueryEventOf, newQueryId } from '../dht/dht-progress.ts'
import { kadInternals } from '../dht/kad-internals.ts'
import { kadIdOfKey } from '../dht/kad-math.ts'
import type { DhtOperationOptions } from '../dht/dht-operations.ts'
import type { DhtQueryStart } from '../dht/dht-progress.ts'
import type { WebkadNode } from '../node.ts'
import type { QueryEvent } from '@libp2p/kad-dht'
import type { PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { CID } from 'multiformats/cid'

export interface ProvideResult {
  cid: string
  queryId: string
  /** Peers that accepted the provider record (answered ADD_PROVIDER). */
  accepted: string[]
  /** The k closest that were sent ADD_PROVIDER and failed, with the reason. */
  failed: Array<{ peer: string, reason: string }>
  /** When the provider record was written here (kad-dht's reprovider counts its validity from it). */
  providedAt: number
  durationMs: number
}

export interface ProviderInfo {
  peerId: PeerId
  multiaddrs: Multiaddr[]
  /** The peer that told us (this tab itself for its own record). */
  from: string
}

export interface FindProvidersResult {
  cid: string
  queryId: string
  providers: ProviderInfo[]
  durationMs: number
}

export interface FindProvidersOptions extends DhtOperationOptions {
  /** Stop the lookup once this many providers other than `exclude` are known. 0: the whole lookup. @default 0 */
  enough?: number
  /** Providers not to report (this tab, or providers already in use). */
  exclude?: Set<string>
  origin?: 'user' | 'scheduler'
  /** Called for each provider as soon as the lookup hears of it (a fetch starts on the first). */
  onProvider?(provider: ProviderInfo): void
}

/**
 * kad-dht provide(): the provider record is stored here, then ADD_PROVIDER goes to the k closest
 * peers to the CID's multihash; traced as a query (like Put), with who accepted it.
 */
export async function provideFile (node: WebkadNode, cid: CID, options: DhtOperationOptions & { origin?: 'user' | 'scheduler' }): Promise<ProvideResult> {
  return await traced(node, { operation: 'provide', label: cid.toString(), origin: options.origin ?? 'user', targetKadId: kadIdOfKey(cid.multihash.bytes) }, options, async (report, elapsed, queryId) => {
    const providedAt = Date.now()
    const accepted = new Set<string>()
    const finals = new Set<string>()
    const errors = new Map<string, string>()
    for await (const event of node.services.dht.provide(cid, { signal: options.signal })) {
      report(event)
      if (event.name === 'FINAL_PEER') finals.add(event.peer.id.toString())
      if (event.name === 'PEER_RESPONSE' && event.messageName === 'ADD_PROVIDER') accepted.add(event.from.toString())
      if (event.name === 'QUERY_ERROR') errors.set(event.from.toString(), event.error?.message ?? 'error')
    }
    if (finals.size === 0) throw new NoPeersError('Provided in this tab only: there are no peers to tell (is the relay connected?).')
    const failed = [...finals].filter(peer => !accepted.has(peer)).map(peer => ({ peer, reason: errors.get(peer) ?? 'no answer' }))
    const result = { cid: cid.toString(), queryId, accepted: [...accepted], failed, providedAt, durationMs: elapsed() }
    return { result, summary: `provider record stored on ${accepted.size} of ${finals.size} closest peers` }
  })
}

/**
 * kad-dht findProviders(): GET_PROVIDERS towards the CID's multihash; NoProvidersError when
 * the lookup ends without any (other than `exclude`).
 */
export async function findFileProviders (node: WebkadNode, cid: CID, options: FindProvidersOptions): Promise<FindProvidersResult> {
  const self = node.peerId.toString()
  const exclude = options.exclude ?? new Set([self])
  return await traced(node, { operation: 'find-providers', label: cid.toString(), origin: options.origin ?? 'user', targetKadId: kadIdOfKey(cid.multihash.bytes) }, options, async (report, elapsed, queryId) => {
    const found = new Map<string, ProviderInfo>()
    const lookup = new AbortController()
    const stop = (): void => { lookup.abort(options.signal.reason) }
    options.signal.addEventListener('abort', stop, { once: true })
    try {
      // Events also come through onProgress (with PEER_RESPONSE's provider lists).
      const onProgress = (progress: { type: string, detail?: unknown }): void => {
        const event = kadQueryEventOf(progress)
        if (event != null) report(event)
      }
      for await (const event of node.services.dht.findProviders(cid, { signal: lookup.signal, onProgress })) {
        if (event.name !== 'PROVIDER') continue
        for (const provider of event.providers) {
          const id = provider.id.toString()
          if (exclude.has(id) || found.has(id)) continue
          const info = { peerId: provider.id, multiaddrs: provider.multiaddrs, from: event.from.toString() }
          found.set(id, info)
          await node.peerStore.merge(provider.id, { multiaddrs: provider.multiaddrs }).catch(() => {})
          options.onProvider?.(info)
        }
        if ((options.enough ?? 0) > 0 && found.size >= (options.enough ?? 0)) {
          lookup.abort()
          break
        }
      }
    } catch (err) {
      if (!lookup.signal.aborted || options.signal.aborted) throw err
    } finally {
      options.signal.removeEventListener('abort', stop)
    }
    if (found.size === 0) throw new NoProvidersError(`No providers found for ${cid.toString()}: nobody in the DHT announced it.`)
    const result = { cid: cid.toString(), queryId, providers: [...found.values()], durationMs: elapsed() }
    return { result, summary: `${found.size} provider(s)` }
  })
}

/** Stops kad-dht's reprovider for the CID (deletes this node's own provider record). */
export async function stopProviding (node: WebkadNode, cid: CID): Promise<void> {
  await node.services.dht.cancelReprovide(cid)
}

/** Query start and end around `work`, as DhtOperations does for Put and Get (its runQuery is private). */
async function traced<T> (node: WebkadNode, start: Omit<DhtQueryStart, 'queryId'>, options: DhtOperationOptions, work: (report: (event: QueryEvent) => void, elapsed: () => number, queryId: string) => Promise<{ result: T, summary: string }>): Promise<T> {
  const queryId = newQueryId()
  const started = performance.now()
  const emit = options.onProgress ?? (() => {})
  const elapsed = (): number => performance.now() - started
  emit({ type: 'webkad:dht:query-start', detail: { ...start, queryId } })
  try {
    if (kadInternals(node.services.dht).routingTable.size === 0) throw new NoPeersError('There are no DHT peers to ask (is the relay connected?).')
    const { result, summary } = await work((event) => { emit(kadProgressEvent(event)) }, elapsed, queryId)
    emit({ type: 'webkad:dht:query-end', detail: { queryId, status: 'done', summary, durationMs: elapsed() } })
    return result
  } catch (err) {
    emit({ type: 'webkad:dht:query-end', detail: { queryId, ...describeQueryFailure(err, options.signal), durationMs: elapsed() } })
    throw err
  }
}
