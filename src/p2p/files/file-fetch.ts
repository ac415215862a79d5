import { logger } from '@libp2p/logger'
import * as raw from 'multiformats/codecs/raw'
import { StorageQuotaError, TransferFailedError } from '../errors.ts'
import { delay } from '../operation.ts'
import { blockLinks, blockMatchesCid, readBlock } from './blocks.ts'
import type { FileBlockstore } from './blocks.ts'
import type { ProviderInfo } from './provider-operations.ts'
import type { BlockChannel, BlockService } from '../services/blocks/index.ts'
import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

const log = logger('webkad:files:fetch')

/** Blocks requested from one provider before its first reply (256 KiB each: 4 MiB in flight per provider). */
export const BLOCKS_IN_FLIGHT_PER_PROVIDER = 16
/** Providers used at once by one transfer. */
export const MAX_PROVIDERS_PER_TRANSFER = 4
/** How often a transfer without any provider left looks for more before it gives up. */
const PROVIDER_SEARCH_ATTEMPTS = 8
const PROVIDER_SEARCH_PAUSE_MS = 3_000
/** Rate is averaged over this window. */
const RATE_WINDOW_MS = 3_000

export type ProviderState = 'connecting' | 'active' | 'dropped' | 'gone'

/** One provider's part in a transfer. */
export interface ProviderShare {
  peer: string
  state: ProviderState
  /** Verified file bytes this provider delivered. */
  bytes: number
  blocks: number
  /** Why it was dropped (lying, broken frames) or is gone (disconnected, no direct connection). */
  reason?: string
}

export type TransferPhase = 'finding-providers' | 'fetching' | 'waiting-for-providers' | 'done' | 'failed' | 'cancelled'

/** A transfer as the progress bar shows it. */
export interface TransferProgress {
  cid: string
  phase: TransferPhase
  /** File bytes stored here (verified), including those resumed from an earlier attempt. */
  bytes: number
  /** The file's size, known once the root block is here. */
  totalBytes?: number
  /** Bytes that were already stored when this attempt began (resume). */
  resumedBytes: number
  blocks: number
  /** Bytes per second over the last few seconds. */
  rate: number
  /** Seconds left at the current rate, once it is known. */
  secondsLeft?: number
  providers: readonly ProviderShare[]
  /** What the transfer waits for or why it failed, in words. */
  message?: string
  startedAt: number
  /** When the first block arrived from a provider (ms epoch): the "first byte" of the transfer. */
  firstBlockAt?: number
  /** When the last block was stored. */
  finishedAt?: number
}

export type FileFetchProgressEvent =
  | { type: 'webkad:files:progress', detail: TransferProgress }
  | { type: 'webkad:files:block', detail: { cid: string, from: string, bytes: number } }
  | { type: 'webkad:files:provider-dropped', detail: { peer: string, reason: string, lying: boolean } }

export interface FetchDagInit {
  blocks: BlockService
  blockstore: FileBlockstore
  root: CID
  providers: ProviderInfo[]
  /** Opens a direct connection to a provider (a tab dials WebRTC); none needed on the memory transport. */
  connect?(peer: PeerId, signal: AbortSignal): Promise<void>
  /** Hands over providers found after the transfer began (the lookup goes on while blocks flow). */
  laterProviders?(add: (provider: ProviderInfo) => void): void
  /** Looks for more providers when every one in use has failed (FIND_PROVIDERS again). */
  findMoreProviders?(exclude: Set<string>, signal: AbortSignal): Promise<ProviderInfo[]>
  signal: AbortSignal
  onProgress?(event: FileFetchProgressEvent): void
  blocksInFlightPerProvider?: number
}

export interface FetchDagResult {
  totalBytes: number
  blocks: number
  resumedBytes: number
  providers: ProviderShare[]
  durationMs: number
}

interface ActiveProvider {
  share: ProviderShare
  peerId: PeerId
  channel?: BlockChannel
  inFlight: Set<string>
  /** Connections opened to it in this transfer (a lost one is retried a few times). */
  attempts: number
}

/** A provider whose connection or stream broke is tried again this many times (webkad closes duplicate WebRTC connections, streams and all). */
const MAX_CONNECT_ATTEMPTS = 3
const RECONNECT_DELAY_MS = 500

/**
 * Fetches every block of a UnixFS DAG that is not stored yet, from several providers at once,
 * with a bounded number of blocks in flight per provider. Every block is checked against its
 * CID before it is stored; a provider that sends a wrong block is dropped for this transfer
 * and the block is fetched elsewhere. Blocks already stored (an earlier attempt, a reload) are
 * not fetched again. Rejects with TransferFailedError / StorageQuotaError (stored blocks kept)
 * or the signal's reason.
 */
export async function fetchDag (init: FetchDagInit): Promise<FetchDagResult> {
  const { blockstore, signal } = init
  const window = init.blocksInFlightPerProvider ?? BLOCKS_IN_FLIGHT_PER_PROVIDER
  const emit = init.onProgress ?? (() => {})
  const startedAt = Date.now()
  const providers = new Map<string, ActiveProvider>()
  /** CIDs known to be needed and not requested yet. */
  const queue: CID[] = []
  /** CIDs discovered and not yet stored or accounted for. */
  let outstanding = 0
  /** Providers that answered "not here" per CID. */
  const lacking = new Map<string, Set<string>>()
  /** Expected file bytes of each child (the parent link's Tsize), for resumed leaves. */
  const expectedSize = new Map<string, number>()
  let bytes = 0
  let resumedBytes = 0
  let blocks = 0
  let totalBytes: number | undefined
  let phase: TransferPhase = 'fetching'
  let message: string | undefined
  const samples: Array<{ at: number, bytes: number }> = []
  let failure: Error | undefined
  let settle: { resolve(): void, reject(err: Error): void } | undefined
  const finished = new Promise<void>((resolve, reject) => { settle = { resolve, reject } })
  finished.catch(() => {})
  let searching = false
  let firstBlockAt: number | undefined
  let finishedAt: number | undefined

  const progress = (): TransferProgress => {
    const now = Date.now()
    while (samples.length > 1 && (samples[0]?.at ?? now) < now - RATE_WINDOW_MS) samples.shift()
    const first = samples[0]
    const rate = first != null && now - first.at > 200 ? (bytes - first.bytes) / ((now - first.at) / 1000) : 0
    const secondsLeft = totalBytes != null && rate > 0 ? Math.max(0, (totalBytes - bytes) / rate) : undefined
    return { cid: init.root.toString(), phase, bytes, totalBytes, resumedBytes, blocks, rate, secondsLeft, providers: [...providers.values()].map(p => ({ ...p.share })), message, startedAt, firstBlockAt, finishedAt }
  }
  const report = (): void => { emit({ type: 'webkad:files:progress', detail: progress() }) }

  const fail = (err: Error): void => {
    if (failure != null) return
    failure = err
    for (const provider of providers.values()) provider.channel?.close()
    settle?.reject(err)
  }
  const onAbort = (): void => { fail(signal.reason as Error) }
  signal.addEventListener('abort', onAbort, { once: true })

  /** Blocks counted: a block re-queued when its provider went away may arrive twice (once from each). */
  const accounted = new Set<string>()
  /**
   * How many times each known block occurs in the file (its paths from the root). A file with
   * repeated chunks (runs of zeros, say) links one block many times: it is fetched and counted
   * once, and its file bytes count once per occurrence.
   */
  const occurrences = new Map<string, number>([[init.root.toString(), 1]])
  /** File bytes held in each counted block, and the children of counted dag-pb nodes (for occurrences found later). */
  const ownBytesOf = new Map<string, number>()
  const childrenOf = new Map<string, CID[]>()

  /** One more occurrence of a block, `count` times: a block met for the first time is fetched (or found stored). */
  const occursAgain = (cid: CID, count: number): void => {
    const key = cid.toString()
    const known = occurrences.get(key)
    occurrences.set(key, (known ?? 0) + count)
    if (known == null) {
      outstanding++
      void discover(cid)
      return
    }
    if (!accounted.has(key)) return // counted with all its occurrences once it is stored
    bytes += (ownBytesOf.get(key) ?? 0) * count
    for (const child of childrenOf.get(key) ?? []) occursAgain(child, count)
  }

  const accountStored = (cid: CID, fileBytes: number, children: readonly CID[], from: ActiveProvider | undefined): void => {
    const key = cid.toString()
    if (accounted.has(key)) return
    accounted.add(key)
    const times = occurrences.get(key) ?? 1
    ownBytesOf.set(key, fileBytes)
    if (children.length > 0) childrenOf.set(key, [...children])
    bytes += fileBytes * times
    blocks++
    if (from == null) resumedBytes += fileBytes * times
    else {
      firstBlockAt ??= Date.now()
      from.share.bytes += fileBytes * times
      from.share.blocks++
      emit({ type: 'webkad:files:block', detail: { cid: key, from: from.share.peer, bytes: fileBytes } })
    }
    samples.push({ at: Date.now(), bytes })
    // Children count as outstanding before the parent is done, so the count never touches 0 early.
    for (const child of children) occursAgain(child, times)
    outstanding--
    if (outstanding === 0 && failure == null) settle?.resolve()
  }

  /** A verified block stored before (resume): its children and the file size. */
  const learn = (cid: CID, data: Uint8Array): { ownBytes: number, children: CID[] } => {
    const links = blockLinks(cid, data)
    if (cid.equals(init.root)) totalBytes = links.fileSize
    for (const [index, child] of links.children.entries()) {
      const size = links.childSizes?.[index]
      if (size != null) expectedSize.set(child.toString(), size)
    }
    return { ownBytes: links.ownBytes, children: links.children }
  }

  /** A CID the file needs: counted at once when it is stored already (resume), else queued. */
  const discover = async (cid: CID): Promise<void> => {
    try {
      if (await blockstore.has(cid, { signal })) {
        if (cid.code === raw.code && expectedSize.has(cid.toString())) {
          accountStored(cid, expectedSize.get(cid.toString()) ?? 0, [], undefined)
        } else {
          const learnt = learn(cid, await readBlock(blockstore, cid, { signal }))
          accountStored(cid, learnt.ownBytes, learnt.children, undefined)
        }
        return
      }
      queue.push(cid)
      pump()
    } catch (err) {
      fail(err as Error)
    }
  }

  const drop = (provider: ActiveProvider, state: 'dropped' | 'gone', reason: string): void => {
    if (provider.share.state === 'dropped' || provider.share.state === 'gone') return
    provider.share.state = state
    provider.share.reason = reason
    provider.channel?.close()
    emit({ type: 'webkad:files:provider-dropped', detail: { peer: provider.share.peer, reason, lying: state === 'dropped' } })
    log('%s provider %s: %s', state, provider.share.peer, reason)
    // What it had in flight goes back to the others.
    for (const cidText of provider.inFlight) {
      const cid = pendingCids.get(cidText)
      if (cid != null) queue.unshift(cid)
    }
    provider.inFlight.clear()
    report()
    pump()
    if (state === 'gone' && provider.attempts < MAX_CONNECT_ATTEMPTS) {
      setTimeout(() => {
        if (failure != null || provider.share.state !== 'gone') return
        provider.share.state = 'connecting'
        connectProvider(provider)
      }, RECONNECT_DELAY_MS)
    }
  }

  const pendingCids = new Map<string, CID>()

  const request = (provider: ActiveProvider, cid: CID): void => {
    const channel = provider.channel
    if (channel == null) return
    const key = cid.toString()
    provider.inFlight.add(key)
    pendingCids.set(key, cid)
    channel.request(cid, { signal }).then(async (data) => {
      if (!provider.inFlight.has(key) || failure != null) return
      if (accounted.has(key)) {
        // Another provider's copy was stored meanwhile (this one was re-queued from a lost provider).
        provider.inFlight.delete(key)
        pump()
        return
      }
      if (data == null) {
        provider.inFlight.delete(key)
        let set = lacking.get(key)
        if (set == null) lacking.set(key, set = new Set())
        set.add(provider.share.peer)
        queue.push(cid)
        pump()
        return
      }
      if (!await blockMatchesCid(cid, data)) {
        drop(provider, 'dropped', 'sent a block that does not match its CID')
        return
      }
      let fileBytes: number
      try {
        fileBytes = learnSafely(cid, data)
      } catch (err) {
        drop(provider, 'dropped', `sent a block that is not a UnixFS file node: ${(err as Error).message}`)
        return
      }
      try {
        await blockstore.put(cid, data, { signal })
      } catch (err) {
        fail(isQuotaError(err)
          ? new StorageQuotaError(`The browser refused to store more blocks (storage quota). ${blocks} blocks are kept; free space and paste the CID again to resume.`)
          : err as Error)
        return
      }
      provider.inFlight.delete(key)
      pendingCids.delete(key)
      // Stored twice (from a lost provider, while its re-queued request was answered by another):
      // counted, and its children discovered, once only.
      if (accounted.has(key)) { pump(); return }
      const requeued = queue.findIndex(queued => queued.equals(cid))
      if (requeued >= 0) queue.splice(requeued, 1)
      const children = pendingChildren.get(key) ?? []
      pendingChildren.delete(key)
      accountStored(cid, fileBytes, children, provider)
      if (blocks % 4 === 0) report()
      pump()
    }, (err: unknown) => {
      if (failure != null || !provider.inFlight.has(key)) return
      drop(provider, (err as Error).name === 'BlockProtocolError' && ['oversized-frame', 'malformed-frame', 'reply-mismatch', 'unexpected-reply'].includes((err as { reason?: string }).reason ?? '') ? 'dropped' : 'gone', (err as Error).message)
    })
  }

  /** Children of blocks verified but not stored yet: discovered only once their parent is stored. */
  const pendingChildren = new Map<string, CID[]>()
  const learnSafely = (cid: CID, data: Uint8Array): number => {
    const links = blockLinks(cid, data)
    if (cid.equals(init.root)) totalBytes = links.fileSize
    for (const [index, child] of links.children.entries()) {
      const size = links.childSizes?.[index]
      if (size != null) expectedSize.set(child.toString(), size)
    }
    if (links.children.length > 0) pendingChildren.set(cid.toString(), links.children)
    return links.ownBytes
  }

  /** Hands queued CIDs to providers with room, the least busy first; looks for providers when none is left. */
  function pump (): void {
    if (failure != null) return
    const usable = (): ActiveProvider[] => [...providers.values()].filter(p => p.share.state === 'active' && p.inFlight.size < window)
    for (let index = 0; index < queue.length;) {
      const cid = queue[index]
      if (cid == null) break
      if (accounted.has(cid.toString())) { queue.splice(index, 1); continue }
      const lackers = lacking.get(cid.toString())
      const candidates = usable().filter(p => lackers?.has(p.share.peer) !== true).sort((a, b) => a.inFlight.size - b.inFlight.size)
      const chosen = candidates[0]
      if (chosen == null) { index++; continue }
      queue.splice(index, 1)
      request(chosen, cid)
    }
    const alive = [...providers.values()].filter(p => p.share.state === 'active' || p.share.state === 'connecting' || (p.share.state === 'gone' && p.attempts < MAX_CONNECT_ATTEMPTS))
    const stuck = queue.length > 0 && alive.filter(p => p.share.state !== 'active').length === 0 &&
      queue.every(cid => alive.every(p => lacking.get(cid.toString())?.has(p.share.peer) === true))
    if (stuck && !searching) void searchForProviders()
  }

  const addProvider = (info: ProviderInfo): void => {
    const key = info.peerId.toString()
    if (providers.has(key) || [...providers.values()].filter(p => p.share.state === 'active' || p.share.state === 'connecting').length >= MAX_PROVIDERS_PER_TRANSFER) return
    const provider: ActiveProvider = { share: { peer: key, state: 'connecting', bytes: 0, blocks: 0 }, peerId: info.peerId, inFlight: new Set(), attempts: 0 }
    providers.set(key, provider)
    report()
    connectProvider(provider)
  }

  function connectProvider (provider: ActiveProvider): void {
    provider.attempts++
    void (async () => {
      try {
        await init.connect?.(provider.peerId, signal)
        provider.channel = await init.blocks.openChannel(provider.peerId, { signal: AbortSignal.any([signal, AbortSignal.timeout(15_000)]) })
        if (failure != null) { provider.channel.close(); return }
        provider.share.state = 'active'
        provider.share.reason = undefined
        phase = 'fetching'
        message = undefined
        report()
      } catch (err) {
        if (failure != null) return
        drop(provider, 'gone', `could not be reached: ${(err as Error).message}`)
      }
      pump()
    })()
  }

  async function searchForProviders (): Promise<void> {
    searching = true
    phase = 'waiting-for-providers'
    message = 'Every provider in use failed or lacks blocks: looking for other providers…'
    report()
    try {
      for (let attempt = 1; attempt <= PROVIDER_SEARCH_ATTEMPTS && failure == null; attempt++) {
        const known = new Set([...providers.values()].filter(p => p.share.state !== 'gone').map(p => p.share.peer))
        const more = await init.findMoreProviders?.(known, signal).catch((err: unknown) => {
          if (signal.aborted) throw err
          return []
        }) ?? []
        for (const info of more) {
          const previous = providers.get(info.peerId.toString())
          // Found again after it was lost: try it afresh, keeping its share so far.
          if (previous?.share.state === 'gone') {
            previous.attempts = 0
            previous.share.state = 'connecting'
            connectProvider(previous)
          } else addProvider(info)
        }
        if ([...providers.values()].some(p => p.share.state === 'connecting' || p.share.state === 'active')) return
        if (attempt < PROVIDER_SEARCH_ATTEMPTS) await delay(PROVIDER_SEARCH_PAUSE_MS, signal)
      }
      fail(new TransferFailedError(`No provider can send the rest of the file (${blocks} blocks stored, kept for a later resume): ${describeProviders(providers)}.`))
    } catch (err) {
      fail(err as Error)
    } finally {
      searching = false
      if (failure == null) pump()
    }
  }

  try {
    outstanding = 1
    report()
    void discover(init.root)
    for (const info of init.providers) addProvider(info)
    init.laterProviders?.((info) => { if (failure == null) addProvider(info) })
    if (init.providers.length === 0) pump()
    await finished
    finishedAt = Date.now()
    // A lost provider still being retried when the last block came stays lost for this transfer.
    for (const provider of providers.values()) {
      if (provider.share.state === 'connecting' && provider.attempts > 1) provider.share.state = 'gone'
    }
    phase = 'done'
    report()
    return { totalBytes: totalBytes ?? bytes, blocks, resumedBytes, providers: [...providers.values()].map(p => ({ ...p.share })), durationMs: Date.now() - startedAt }
  } catch (err) {
    phase = signal.aborted ? 'cancelled' : 'failed'
    message = (err as Error).message
    report()
    throw err
  } finally {
    signal.removeEventListener('abort', onAbort)
    for (const provider of providers.values()) provider.channel?.close()
  }
}

function describeProviders (providers: Map<string, ActiveProvider>): string {
  if (providers.size === 0) return 'none was found'
  return [...providers.values()].map(p => `${p.share.peer.slice(-6)} ${p.share.reason ?? p.share.state}`).join('; ')
}

function isQuotaError (err: unknown): boolean {
  const name = (err as Error)?.name ?? ''
  const message = (err as Error)?.message ?? ''
  return name === 'QuotaExceededError' || /quota/i.test(message) || (err as { cause?: { name?: string } })?.cause?.name === 'QuotaExceededError'
}
