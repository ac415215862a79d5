import { lpStream } from '@libp2p/utils'
import { CID } from 'multiformats/cid'
import { BlockProtocolError } from '../../errors.ts'
import { delay } from '../../operation.ts'
import { BlockRequest, BlockResponse } from './pb/blocks.ts'
import { MAX_BLOCK_BYTES, MAX_REQUEST_FRAME_BYTES, MAX_RESPONSE_FRAME_BYTES } from './index.ts'
import type { BlockChannel, BlockServiceInit, BlockSource } from './index.ts'
import type { TokenBuckets } from '../../token-buckets.ts'
import type { AbortOptions, Connection, Logger, PeerId, Stream } from '@libp2p/interface'

/** Blocks read from the store ahead of the replies being written, per stream. */
const READ_AHEAD_BLOCKS = 4

/** What serving a stream needs of the service. */
export interface ServeContext {
  options: Required<BlockServiceInit>
  log: Logger
  limiter: TokenBuckets
  streamsByPeer: Map<string, number>
  signal: AbortSignal
  source(): BlockSource | undefined
}

interface PendingRequest {
  cid: CID
  resolve(bytes: Uint8Array | undefined): void
  reject(err: Error): void
}

/** Requests pipelined on one stream; replies are matched to requests in order. */
export class PipelinedChannel implements BlockChannel {
  readonly peer: PeerId
  private readonly stream: Stream
  private readonly lp
  private readonly queue: PendingRequest[] = []
  private readonly idleTimeoutMs: number
  private wake?: () => void
  private failure?: Error

  constructor (peer: PeerId, stream: Stream, idleTimeoutMs: number, log: Logger) {
    this.peer = peer
    this.stream = stream
    this.idleTimeoutMs = idleTimeoutMs
    this.lp = lpStream(stream, { maxDataLength: MAX_RESPONSE_FRAME_BYTES })
    this.readReplies().catch((err: unknown) => {
      log('block channel to %p closed - %e', peer, err)
      this.close(err instanceof BlockProtocolError ? err : new BlockProtocolError(`stream to ${peer.toString()} failed: ${(err as Error)?.message ?? String(err)}`, 'stream-failed'))
    })
  }

  get pending (): number { return this.queue.length }
  get closed (): boolean { return this.failure != null }

  async request (cid: CID, options: AbortOptions): Promise<Uint8Array | undefined> {
    if (this.failure != null) throw this.failure
    const reply = new Promise<Uint8Array | undefined>((resolve, reject) => { this.queue.push({ cid, resolve, reject }) })
    this.wake?.()
    await this.lp.write(BlockRequest.encode({ cid: cid.bytes }), options).catch((err: unknown) => {
      this.close(new BlockProtocolError(`could not write to ${this.peer.toString()}: ${(err as Error).message}`, 'stream-failed'))
    })
    // An aborted caller stops waiting; the reply is still read (and dropped) to keep the order.
    return await raceAbort(reply, options.signal)
  }

  close (reason: Error = new BlockProtocolError('channel closed', 'closed')): void {
    if (this.failure != null) return
    this.failure = reason
    for (const pending of this.queue.splice(0)) pending.reject(reason)
    this.wake?.()
    if (reason instanceof BlockProtocolError && reason.reason !== 'closed') this.stream.abort(reason)
    else void this.stream.close().catch(() => { this.stream.abort(reason) })
  }

  private async readReplies (): Promise<void> {
    while (this.failure == null) {
      if (this.queue.length === 0) {
        await new Promise<void>((resolve) => { this.wake = resolve })
        this.wake = undefined
        continue
      }
      let frame
      try {
        frame = await this.lp.read({ signal: AbortSignal.timeout(this.idleTimeoutMs) })
      } catch (err) {
        const name = (err as Error).name
        if (name === 'InvalidDataLengthError' || name === 'InvalidDataLengthLengthError') throw new BlockProtocolError(`${this.peer.toString()} sent a frame over ${MAX_RESPONSE_FRAME_BYTES} bytes`, 'oversized-frame')
        if (name === 'TimeoutError') throw new BlockProtocolError(`${this.peer.toString()} did not answer within ${this.idleTimeoutMs / 1000} s`, 'timeout')
        throw err
      }
      let response
      try {
        response = BlockResponse.decode(frame)
      } catch (err) {
        throw new BlockProtocolError(`${this.peer.toString()} sent a malformed frame: ${(err as Error).message}`, 'malformed-frame')
      }
      const head = this.queue.shift()
      if (head == null) throw new BlockProtocolError(`${this.peer.toString()} sent a reply nobody asked for`, 'unexpected-reply')
      if (!equalBytes(response.cid, head.cid.bytes)) {
        const error = new BlockProtocolError(`${this.peer.toString()} answered with another block than the one asked for`, 'reply-mismatch')
        head.reject(error)
        throw error
      }
      head.resolve(response.present ? response.data : undefined)
    }
  }
}

export async function serveBlockStream (stream: Stream, connection: Connection, context: ServeContext): Promise<void> {
  const peer = connection.remotePeer.toString()
  const open = (context.streamsByPeer.get(peer) ?? 0) + 1
  if (open > context.options.maxStreamsPerPeer) {
    context.log('%s holds %d block streams already, refusing another', peer, open - 1)
    stream.abort(new BlockProtocolError('too many block streams from this peer', 'too-many-streams'))
    return
  }
  context.streamsByPeer.set(peer, open)
  const lp = lpStream(stream, { maxDataLength: MAX_REQUEST_FRAME_BYTES })
  // Blocks are read ahead (a few at once) while earlier replies are written, in request order.
  const replies: Array<Promise<Uint8Array>> = []
  let more: (() => void) | undefined
  let room: (() => void) | undefined
  let readerDone = false
  const reading = (async () => {
    try {
      for (;;) {
        let frame
        try {
          frame = await lp.read({ signal: AbortSignal.any([context.signal, AbortSignal.timeout(context.options.idleTimeoutMs)]) })
        } catch (err) {
          const name = (err as Error).name
          if (name === 'UnexpectedEOFError' || name === 'TimeoutError') return
          throw err
        }
        const cid = CID.decode(BlockRequest.decode(frame).cid)
        const wait = context.limiter.tryTake(peer)
        if (wait > 0) await delay(wait, context.signal)
        const reply = context.source()?.get(cid, { signal: context.signal }).then((data) => {
          const present = data != null && data.byteLength <= MAX_BLOCK_BYTES
          return BlockResponse.encode({ cid: cid.bytes, present, data: present ? data as Uint8Array<ArrayBuffer> : new Uint8Array(0) })
        }) ?? Promise.resolve(BlockResponse.encode({ cid: cid.bytes, present: false, data: new Uint8Array(0) }))
        reply.catch(() => {})
        replies.push(reply)
        more?.()
        while (replies.length >= READ_AHEAD_BLOCKS) await new Promise<void>((resolve) => { room = resolve })
      }
    } finally {
      readerDone = true
      more?.()
    }
  })()
  reading.catch(() => {})
  try {
    for (;;) {
      const next = replies[0]
      if (next == null) {
        if (readerDone) break
        await new Promise<void>((resolve) => { more = resolve })
        continue
      }
      await lp.write(await next, { signal: context.signal })
      replies.shift()
      room?.()
    }
    await reading
    await stream.close().catch(() => {})
  } catch (err) {
    context.log('block stream from %s reset - %e', peer, err)
    stream.abort(err as Error)
    replies.length = 0
    room?.()
  } finally {
    const left = (context.streamsByPeer.get(peer) ?? 1) - 1
    if (left <= 0) context.streamsByPeer.delete(peer)
    else context.streamsByPeer.set(peer, left)
  }
}

function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  for (let index = 0; index < a.byteLength; index++) if (a[index] !== b[index]) return false
  return true
}

async function raceAbort<T> (promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal == null) return await promise
  signal.throwIfAborted()
  return await new Promise<T>((resolve, reject) => {
    const onAbort = (): void => { reject(signal.reason) }
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(resolve, reject).finally(() => { signal.removeEventListener('abort', onAbort) })
  })
}
