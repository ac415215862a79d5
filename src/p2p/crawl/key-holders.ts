import { peerIdFromString } from '@libp2p/peer-id'
import { logger } from '@libp2p/logger'
import { multiaddr } from '@multiformats/multiaddr'
import { fromString } from 'uint8arrays'
import { compactDistance, compareDistances, kadIdOfKey, kadIdOfPeer, toHex, xorDistance } from '../dht/kad-math.ts'
import { CrawlProtocolError } from '../errors.ts'
import { compareRecords, decodeRecordEnvelope, parseRecordKey, validateRecord } from '../dht/records.ts'
import { dialTarget, describeError, requestOnce } from './crawler.ts'
import type { CrawlHost } from './crawler.ts'
import type { CrawlResult } from './crawl-types.ts'
import type { AbortOptions } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

const log = logger('webkad:crawl:holders')

/** holds: the best record any of them has; stale: an older one; none: no record; invalid: refused by the validator. */
export type HolderState = 'holds' | 'stale' | 'none' | 'invalid' | 'unreachable'

export interface KeyHolder {
  peerId: string
  /** Its place among the key's closest nodes of the crawl (0 = closest). */
  rank: number
  /** XOR distance to the key, compact. */
  distance: string
  state: HolderState
  /** The record's sequence (decimal) when it holds a valid one. */
  sequence?: string
  author?: string
  expiresAt?: number
  /** Why the record was refused, or why the node could not be asked. */
  error?: string
}

export interface KeyHoldersResult {
  /** The record key, with its `/webkad/` prefix. */
  key: string
  targetKadId: string
  /** How many closest nodes were asked (the crawl's k, or fewer nodes). */
  k: number
  /** The k closest nodes of the crawl to the key, nearest first. */
  holders: KeyHolder[]
  /** The sequence of the best record found, if any. */
  bestSequence?: string
  startedAt: number
  finishedAt: number
}

export type KeyHoldersProgressEvent =
  | { name: 'holders:asked', peerId: string, state: HolderState, answered: number, total: number }

/** What asking needs beyond a crawl host: the record this node itself holds for a key. */
export interface KeyHoldersHost extends CrawlHost {
  localRecord(key: Uint8Array, options?: AbortOptions): Promise<Uint8Array | undefined>
}

export interface KeyHoldersOptions {
  signal?: AbortSignal
  onProgress?(event: KeyHoldersProgressEvent): void
  /** @default 8 */
  concurrency?: number
  /** @default 4000 */
  requestTimeoutMs?: number
  /** @default 10000 */
  dialTimeoutMs?: number
}

/**
 * Which of a key's k closest nodes (among the nodes of a crawl) hold its record, and at which
 * sequence: each is asked GET_VALUE over the standard kad protocol, and every answer is checked
 * by the validator a PUT goes through. The best valid record sets what "holds" means; older ones
 * are stale. InvalidRecordKeyError for a bad key; the signal's reason when aborted.
 */
export async function findKeyHolders (host: KeyHoldersHost, crawl: Pick<CrawlResult, 'nodes' | 'kBucketSize'>, keyText: string, options: KeyHoldersOptions = {}): Promise<KeyHoldersResult> {
  const { key } = parseRecordKey(keyText)
  const keyBytes = fromString(key)
  const target = kadIdOfKey(keyBytes)
  const signal = options.signal ?? new AbortController().signal
  const concurrency = options.concurrency ?? 8
  const requestTimeoutMs = options.requestTimeoutMs ?? 4000
  const dialTimeoutMs = options.dialTimeoutMs ?? 10_000
  const startedAt = Date.now()

  const candidates = crawl.nodes.flatMap(node => {
    try {
      const peerId = peerIdFromString(node.peerId)
      return [{ peerId, addresses: node.addresses.flatMap(parseAddress), distance: xorDistance(kadIdOfPeer(peerId), target) }]
    } catch {
      return [] // an imported entry that is not a peer ID cannot be asked
    }
  }).sort((a, b) => compareDistances(a.distance, b.distance)).slice(0, Math.max(1, crawl.kBucketSize))

  const answers: Array<{ state: 'valid' | 'none' | 'invalid' | 'unreachable', value?: Uint8Array, error?: string, author?: string, sequence?: bigint, expiresAt?: number }> = []
  let answered = 0
  const ask = async (index: number): Promise<void> => {
    const candidate = candidates[index]!
    let value: Uint8Array | undefined
    try {
      if (candidate.peerId.equals(host.node.peerId)) {
        value = await host.localRecord(keyBytes, { signal })
      } else {
        const dialable = await dialTarget(host, candidate.peerId, candidate.addresses)
        if (dialable == null) throw new Error('no address known')
        value = await requestOnce(host, candidate.peerId, dialable, async wire => (await wire.getValue(keyBytes, { signal: AbortSignal.any([signal, AbortSignal.timeout(requestTimeoutMs)]) })).value, { signal, dialTimeoutMs })
      }
    } catch (err) {
      signal.throwIfAborted()
      log('%p could not be asked - %e', candidate.peerId, err)
      // A malformed answer is a refused answer, not a node that could not be reached.
      answers[index] = { state: err instanceof CrawlProtocolError ? 'invalid' : 'unreachable', error: describeError(err) }
      return
    }
    if (value == null) {
      answers[index] = { state: 'none' }
      return
    }
    try {
      const record = await validateRecord(keyBytes, value)
      answers[index] = { state: 'valid', value, author: record.author, sequence: record.sequence, expiresAt: record.expiresAt }
    } catch (err) {
      answers[index] = { state: 'invalid', error: describeError(err) }
    }
  }

  // A small pool: k requests at most, `concurrency` at a time.
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < candidates.length) {
      const index = next++
      await ask(index)
      answered++
      const answer = answers[index]!
      try {
        options.onProgress?.({ name: 'holders:asked', peerId: candidates[index]!.peerId.toString(), state: answer.state === 'valid' ? 'holds' : answer.state, answered, total: candidates.length })
      } catch (err) { log.error('onProgress threw - %e', err) }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, candidates.length) }, worker))
  signal.throwIfAborted()

  // The best valid record, as the record selector would pick it.
  let best: ReturnType<typeof decodeRecordEnvelope> | undefined
  for (const answer of answers) {
    if (answer.value == null) continue
    const envelope = decodeRecordEnvelope(answer.value)
    if (best == null || compareRecords(envelope, best) > 0) best = envelope
  }
  const holders = candidates.map((candidate, rank): KeyHolder => {
    const answer = answers[rank]!
    const base = { peerId: candidate.peerId.toString(), rank, distance: compactDistance(candidate.distance) }
    if (answer.state !== 'valid' || answer.value == null || best == null) {
      return { ...base, state: answer.state === 'valid' ? 'holds' : answer.state, ...(answer.error != null ? { error: answer.error } : {}) }
    }
    const current = compareRecords(decodeRecordEnvelope(answer.value), best) === 0
    return { ...base, state: current ? 'holds' : 'stale', sequence: String(answer.sequence), ...(answer.author != null ? { author: answer.author } : {}), ...(answer.expiresAt != null ? { expiresAt: answer.expiresAt } : {}) }
  })
  return {
    key,
    targetKadId: toHex(target),
    k: candidates.length,
    holders,
    ...(best != null ? { bestSequence: String(best.sequence) } : {}),
    startedAt,
    finishedAt: Date.now()
  }
}

function parseAddress (text: string): Multiaddr[] {
  try {
    return [multiaddr(text)]
  } catch {
    return []
  }
}
