import { lpStream } from '@libp2p/utils'
import { CID } from 'multiformats/cid'
import { BlockProtocolError } from '../../errors.ts'
import { delay } from '../../operation.ts'
import { TokenBuckets } from '../../token-buckets.ts'
import { BlockRequest, BlockResponse } from './pb/blocks.ts'
import type { AbortOptions, ComponentLogger, Connection, Logger, PeerId, Startable, Stream } from '@libp2p/interface'
import type { ConnectionManager, Registrar } from '@libp2p/interface-internal'

export const BLOCKS_PROTOCOL = '/webkad/blocks/1.0.0'
/** The largest block served or accepted. The importer writes leaves of 256 KiB; bitswap allows 2 MiB. */
export const MAX_BLOCK_BYTES = 1024 * 1024
/** A response frame: the block, its CID (≤ 100 bytes for sha2-256) and protobuf framing. */
export const MAX_RESPONSE_FRAME_BYTES = MAX_BLOCK_BYTES + 256
/** A request frame carries one CID. */
export const MAX_REQUEST_FRAME_BYTES = 256

/** Where the service reads the blocks it serves (the tab's blockstore, once the files feature has loaded). */
export interface BlockSource {
  /** The block's bytes, or undefined when this node does not have it. */
  get(cid: CID, options: AbortOptions): Promise<Uint8Array | undefined>
}

export interface BlockServiceInit {
  /** Inbound block streams per connection. @default 4 */
  maxInboundStreams?: number
  /** Streams one peer may hold open here at once, over all its connections. @default 4 */
  maxStreamsPerPeer?: number
  /** Block requests answered per second per peer (a 64 MiB file is 256 blocks). @default 2000 */
  requestsPerSecond?: number
  /** @default 512 */
  requestBurst?: number
  /** A served stream with no request for this long is closed; a fetch waits this long for a reply. @default 20 s */
  idleTimeoutMs?: number
}

export interface BlockServiceComponents {
  peerId: PeerId
  registrar: Registrar
  connectionManager: ConnectionManager
  logger: ComponentLogger
}

/** One stream to a provider on which block requests are pipelined; replies come in request order. */
export interface BlockChannel {
  readonly peer: PeerId
  /**
   * Asks for a block: resolves with its bytes (NOT yet checked against the CID) or undefined
   * when the peer lacks it. Rejects with BlockProtocolError when the peer breaks the protocol
   * (oversized or malformed frame, a reply for another CID) or the stream fails; the channel is
   * then closed and every pending request rejected.
   */
  request(cid: CID, options: AbortOptions): Promise<Uint8Array | undefined>
  /** Requests written and not answered yet. */
  readonly pending: number
  readonly closed: boolean
  close(reason?: Error): void
}

/** The blocks service's public face (`node.services.blocks`). */
export interface BlockService {
  /** Sets (or clears) where served blocks are read from; until then every request is answered "not here". */
  setBlockSource(source: BlockSource | undefined): void
  /** Opens a channel to a peer on an unlimited connection (a tab dials WebRTC first: see files/). */
  openChannel(peer: PeerId, options: AbortOptions): Promise<BlockChannel>
  /** Streams currently served, by peer (for limits and the UI). */
  servedStreams(): ReadonlyMap<string, number>
}

interface PendingRequest {
  cid: CID
  resolve(bytes: Uint8Array | undefined): void
  reject(err: Error): void
}

class PipelinedChannel implements BlockChannel {
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

class WebkadBlocks implements BlockService, Startable {
  private readonly components: BlockServiceComponents
  private readonly log: Logger
  private readonly options: Required<BlockServiceInit>
  private readonly limiter: TokenBuckets
  private readonly streamsByPeer = new Map<string, number>()
  private source?: BlockSource
  private shutdown = new AbortController()

  constructor (components: BlockServiceComponents, init: BlockServiceInit = {}) {
    this.components = components
    this.log = components.logger.forComponent('webkad:blocks')
    this.options = {
      maxInboundStreams: init.maxInboundStreams ?? 4,
      maxStreamsPerPeer: init.maxStreamsPerPeer ?? 4,
      requestsPerSecond: init.requestsPerSecond ?? 2000,
      requestBurst: init.requestBurst ?? 512,
      idleTimeoutMs: init.idleTimeoutMs ?? 20_000
    }
    this.limiter = new TokenBuckets(this.options.requestsPerSecond, this.options.requestBurst, { maxKeys: 1024 })
  }

  readonly [Symbol.toStringTag] = '@webkad/blocks'

  async start (): Promise<void> {
    this.shutdown = new AbortController()
    // Not on limited (relayed) connections: blocks go over WebRTC, never through the relay.
    await this.components.registrar.handle(BLOCKS_PROTOCOL, (stream, connection) => { void this.serve(stream, connection) }, {
      maxInboundStreams: this.options.maxInboundStreams
    })
  }

  async stop (): Promise<void> {
    this.shutdown.abort()
    await this.components.registrar.unhandle(BLOCKS_PROTOCOL)
  }

  setBlockSource (source: BlockSource | undefined): void { this.source = source }

  servedStreams (): ReadonlyMap<string, number> { return this.streamsByPeer }

  async openChannel (peer: PeerId, options: AbortOptions): Promise<BlockChannel> {
    const open = this.components.connectionManager.getConnections(peer).filter(connection => connection.status === 'open' && connection.limits == null)
    const connection: Connection = open[0] ?? await this.components.connectionManager.openConnection(peer, options)
    const stream = await connection.newStream(BLOCKS_PROTOCOL, { signal: options.signal })
    return new PipelinedChannel(peer, stream, this.options.idleTimeoutMs, this.log)
  }

  /** Serves one inbound stream: each request is answered in order; a bad frame resets only this stream. */
  private async serve (stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer.toString()
    const open = (this.streamsByPeer.get(peer) ?? 0) + 1
    if (open > this.options.maxStreamsPerPeer) {
      this.log('%s holds %d block streams already, refusing another', peer, open - 1)
      stream.abort(new BlockProtocolError('too many block streams from this peer', 'too-many-streams'))
      return
    }
    this.streamsByPeer.set(peer, open)
    const lp = lpStream(stream, { maxDataLength: MAX_REQUEST_FRAME_BYTES })
    try {
      for (;;) {
        let frame
        try {
          frame = await lp.read({ signal: AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(this.options.idleTimeoutMs)]) })
        } catch (err) {
          const name = (err as Error).name
          if (name === 'UnexpectedEOFError' || name === 'TimeoutError') break
          throw err
        }
        const cid = CID.decode(BlockRequest.decode(frame).cid)
        const wait = this.limiter.tryTake(peer)
        if (wait > 0) await delay(wait, this.shutdown.signal)
        const data = await this.source?.get(cid, { signal: this.shutdown.signal })
        const present = data != null && data.byteLength <= MAX_BLOCK_BYTES
        await lp.write(BlockResponse.encode({ cid: cid.bytes, present, data: present ? data as Uint8Array<ArrayBuffer> : new Uint8Array(0) }), { signal: this.shutdown.signal })
      }
      await stream.close().catch(() => {})
    } catch (err) {
      this.log('block stream from %s reset - %e', peer, err)
      stream.abort(err as Error)
    } finally {
      const left = (this.streamsByPeer.get(peer) ?? 1) - 1
      if (left <= 0) this.streamsByPeer.delete(peer)
      else this.streamsByPeer.set(peer, left)
    }
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

/** The block exchange `/webkad/blocks/1.0.0` as a libp2p service. */
export function webkadBlocks (init: BlockServiceInit = {}): (components: BlockServiceComponents) => BlockService {
  return (components) => new WebkadBlocks(components, init)
}
