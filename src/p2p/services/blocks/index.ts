import { TokenBuckets } from '../../token-buckets.ts'
import type { AbortOptions, ComponentLogger, Connection, Logger, PeerId, Startable, Stream } from '@libp2p/interface'
import type { ConnectionManager, Registrar } from '@libp2p/interface-internal'
import type { CID } from 'multiformats/cid'

// The protocol's codec and stream handling load on the first block stream, so tabs that never
// share a file do not carry them in the initial bundle.
let exchange: Promise<typeof import('./block-exchange.ts')> | undefined
async function loadExchange (): Promise<typeof import('./block-exchange.ts')> {
  exchange ??= import('./block-exchange.ts')
  return await exchange
}

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
    await this.components.registrar.handle(BLOCKS_PROTOCOL, (stream, connection) => { this.serve(stream, connection).catch((err: unknown) => { this.log.error('could not serve a block stream - %e', err) }) }, {
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
    const { PipelinedChannel } = await loadExchange()
    const stream = await connection.newStream(BLOCKS_PROTOCOL, { signal: options.signal })
    return new PipelinedChannel(peer, stream, this.options.idleTimeoutMs, this.log)
  }

  private async serve (stream: Stream, connection: Connection): Promise<void> {
    const { serveBlockStream } = await loadExchange().catch((err: unknown) => {
      stream.abort(err as Error)
      throw err
    })
    await serveBlockStream(stream, connection, { options: this.options, log: this.log, limiter: this.limiter, streamsByPeer: this.streamsByPeer, signal: this.shutdown.signal, source: () => this.source })
  }
}

/** The block exchange `/webkad/blocks/1.0.0` as a libp2p service. */
export function webkadBlocks (init: BlockServiceInit = {}): (components: BlockServiceComponents) => BlockService {
  return (components) => new WebkadBlocks(components, init)
}
