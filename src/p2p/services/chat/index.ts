import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { MemoryDatastore } from 'datastore-core'
import { fromString, toString } from 'uint8arrays'
import { backoffDelay } from '../../backoff.ts'
import { ChatProtocolError } from '../../errors.ts'
import { classifyTransport } from '../../network/connections.ts'
import { preferredConnection } from '../../network/duplicate-connections.ts'
import { webrtcAddressFor } from '../../network/webrtc-address.ts'
import { ChatHistory } from './chat-history.ts'
import { CHAT_PROTOCOL, MAX_CHAT_FRAME_BYTES, MESSAGE_ID_BYTES, checkChatText, decodeChatFrame, decodeChatFrameLength, encodeChatFrame } from './chat-codec.ts'
import { PeerRateLimiter } from './rate-limiter.ts'
import type { ChatMessage, ChatPath, Conversation } from './chat-history.ts'
import type { ReadableStore } from '../../stores/store.ts'
import type { ComponentLogger, Connection, Libp2pEvents, Logger, PeerId, PeerStore, Startable, Stream, AbortOptions } from '@libp2p/interface'
import type { ConnectionManager, Registrar } from '@libp2p/interface-internal'
import type { Datastore } from 'interface-datastore'
import type { TypedEventTarget } from 'main-event'

export { CHAT_PROTOCOL, MAX_CHAT_TEXT_BYTES } from './chat-codec.ts'
export type { ChatMessage, ChatPath, Conversation, DeliveryState } from './chat-history.ts'

export interface ChatServiceInit {
  /** History and outbox storage (IndexedDB in the browser); in memory when omitted. */
  datastore?: Datastore
  /** Inbound chat streams allowed at once per connection. @default 8 */
  maxInboundStreams?: number
  /** Messages accepted per second from one peer; faster senders are slowed down. @default 300 */
  messagesPerSecond?: number
  /** Messages a peer may send at once before the rate applies. @default 1000 */
  burst?: number
  /** Messages written before waiting for acknowledgements. @default 64 */
  window?: number
  /** Open a direct (WebRTC) connection before falling back to a relayed one. @default true */
  preferDirect?: boolean
  /** Retry delays for undelivered messages. @default 500 ms doubling to 10 s */
  initialRetryDelayMs?: number
  maxRetryDelayMs?: number
  /** How long a stream may sit without a frame or an ack. @default 15 s */
  idleTimeoutMs?: number
}

export interface ChatServiceComponents {
  peerId: PeerId
  registrar: Registrar
  connectionManager: ConnectionManager
  peerStore: PeerStore
  events: TypedEventTarget<Libp2pEvents>
  logger: ComponentLogger
}

/** The chat service's public face (`node.services.chat`). */
export interface ChatService {
  readonly conversations: ReadableStore<readonly Conversation[]>
  /** Stores the message and delivers it as soon as the peer can be reached (retrying with backoff). */
  send(peer: PeerId, text: string, options?: AbortOptions): Promise<ChatMessage>
  openConversation(peer: PeerId): void
  markRead(peer: PeerId): Promise<void>
  setNickname(peer: PeerId, nickname: string): Promise<void>
  /** Tries every undelivered message now instead of waiting for the backoff. */
  retryNow(): void
}

class WebkadChat implements ChatService, Startable {
  private readonly components: ChatServiceComponents
  private readonly log: Logger
  private readonly history: ChatHistory
  private readonly limiter: PeerRateLimiter
  private readonly options: Required<Omit<ChatServiceInit, 'datastore'>>
  private readonly pumping = new Set<string>()
  private readonly retryTimers = new Map<string, ReturnType<typeof setTimeout>>()
  private readonly retryAttempts = new Map<string, number>()
  private shutdown = new AbortController()
  private running = false

  constructor (components: ChatServiceComponents, init: ChatServiceInit = {}) {
    this.components = components
    this.log = components.logger.forComponent('webkad:chat')
    this.history = new ChatHistory(init.datastore ?? new MemoryDatastore())
    this.options = {
      maxInboundStreams: init.maxInboundStreams ?? 8,
      messagesPerSecond: init.messagesPerSecond ?? 300,
      burst: init.burst ?? 1000,
      window: init.window ?? 64,
      preferDirect: init.preferDirect ?? true,
      initialRetryDelayMs: init.initialRetryDelayMs ?? 500,
      maxRetryDelayMs: init.maxRetryDelayMs ?? 10_000,
      idleTimeoutMs: init.idleTimeoutMs ?? 15_000
    }
    this.limiter = new PeerRateLimiter(this.options.messagesPerSecond, this.options.burst)
  }

  readonly [Symbol.toStringTag] = 'webkad:chat'

  get conversations (): ReadableStore<readonly Conversation[]> { return this.history.conversations }

  async start (): Promise<void> {
    this.shutdown = new AbortController()
    await this.history.load()
    await this.components.registrar.handle(CHAT_PROTOCOL, (stream, connection) => { void this.receive(stream, connection) }, {
      maxInboundStreams: this.options.maxInboundStreams,
      // Two tabs without any WebRTC path still chat through the relay.
      runOnLimitedConnection: true
    })
    this.components.events.addEventListener('peer:connect', this.onPeerConnect)
    this.components.events.addEventListener('peer:disconnect', this.onPeerDisconnect)
    this.running = true
  }

  afterStart (): void {
    // Messages written before a reload are delivered without user action.
    for (const peer of this.history.peersWithPending()) this.kick(peer)
  }

  async stop (): Promise<void> {
    this.running = false
    this.shutdown.abort()
    for (const timer of this.retryTimers.values()) clearTimeout(timer)
    this.retryTimers.clear()
    this.components.events.removeEventListener('peer:connect', this.onPeerConnect)
    this.components.events.removeEventListener('peer:disconnect', this.onPeerDisconnect)
    await this.components.registrar.unhandle(CHAT_PROTOCOL)
  }

  async send (peer: PeerId, text: string): Promise<ChatMessage> {
    checkChatText(text)
    if (peer.equals(this.components.peerId)) throw new ChatProtocolError('cannot chat with yourself', 'unexpected-frame')
    const id = toString(crypto.getRandomValues(new Uint8Array(MESSAGE_ID_BYTES)), 'base16')
    const message = await this.history.addOutgoing(peer.toString(), id, text, Date.now())
    this.kick(peer.toString())
    return message
  }

  openConversation (peer: PeerId): void {
    this.history.open(peer.toString())
  }

  async markRead (peer: PeerId): Promise<void> {
    await this.history.markRead(peer.toString())
  }

  async setNickname (peer: PeerId, nickname: string): Promise<void> {
    await this.history.setNickname(peer.toString(), nickname)
  }

  retryNow (): void {
    for (const peer of this.history.peersWithPending()) {
      this.retryAttempts.delete(peer)
      this.kick(peer)
    }
  }

  private readonly onPeerConnect = (event: CustomEvent<PeerId>): void => {
    const peer = event.detail.toString()
    // The peer is back: retry at once instead of waiting out the backoff.
    if (this.history.pending(peer).length > 0) {
      this.retryAttempts.delete(peer)
      this.kick(peer)
    }
  }

  private readonly onPeerDisconnect = (event: CustomEvent<PeerId>): void => {
    this.limiter.forget(event.detail.toString())
  }

  /** Starts (or re-arms) delivery to one peer; at most one delivery loop per peer. */
  private kick (peer: string): void {
    if (!this.running) return
    const timer = this.retryTimers.get(peer)
    if (timer != null) {
      clearTimeout(timer)
      this.retryTimers.delete(peer)
    }
    if (this.pumping.has(peer)) return
    this.pumping.add(peer)
    void this.pump(peer).finally(() => { this.pumping.delete(peer) })
  }

  private async pump (peer: string): Promise<void> {
    while (this.running && this.history.pending(peer).length > 0) {
      try {
        await this.deliverPending(peerIdFromString(peer))
        this.retryAttempts.delete(peer)
      } catch (err) {
        if (!this.running) return
        const attempt = (this.retryAttempts.get(peer) ?? 0) + 1
        this.retryAttempts.set(peer, attempt)
        const wait = backoffDelay(attempt, this.options.initialRetryDelayMs, this.options.maxRetryDelayMs)
        this.log('delivery to %s failed (attempt %d), retrying in %d ms - %e', peer, attempt, wait, err)
        this.history.markRetrying(peer, `${describeFailure(err)} — retrying in ${Math.round(wait / 1000)} s`)
        this.retryTimers.set(peer, setTimeout(() => {
          this.retryTimers.delete(peer)
          this.kick(peer)
        }, wait))
        return
      }
    }
  }

  /** Writes every pending message in order on one stream, up to `window` unacknowledged. */
  private async deliverPending (peer: PeerId): Promise<void> {
    const signal = AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(120_000)])
    const { stream, path } = await this.openStream(peer, signal)
    this.history.setPath(peer.toString(), path)
    const lp = lpStream(stream, { maxDataLength: MAX_CHAT_FRAME_BYTES, lengthDecoder: decodeChatFrameLength })
    const pending = this.history.pending(peer.toString())
    const unacked = new Map<string, ChatMessage>()
    let windowOpened: (() => void) | undefined
    try {
      const readAcks = (async () => {
        let acked = 0
        while (acked < pending.length) {
          const frame = decodeChatFrame(await lp.read({ signal: AbortSignal.any([signal, AbortSignal.timeout(this.options.idleTimeoutMs)]) }))
          if (frame.kind !== 'ack') throw new ChatProtocolError('expected an ack', 'unexpected-frame')
          const key = `${frame.sequence}/${toString(frame.id, 'base16')}`
          const message = unacked.get(key)
          if (message == null) throw new ChatProtocolError('ack for a message that was not sent', 'unexpected-frame')
          unacked.delete(key)
          acked++
          await this.history.markDelivered(peer.toString(), message.sequence, message.id)
          windowOpened?.()
        }
      })()
      readAcks.catch(() => {}) // awaited below; avoid an unhandled rejection while writing
      for (const message of pending) {
        while (unacked.size >= this.options.window) {
          await Promise.race([new Promise<void>(resolve => { windowOpened = resolve }), readAcks])
        }
        unacked.set(`${message.sequence}/${message.id}`, message)
        await lp.write(encodeChatFrame({ kind: 'message', id: fromString(message.id, 'base16'), sequence: BigInt(message.sequence), sentAt: message.sentAt, text: message.text }), { signal })
      }
      await readAcks
      await stream.close({ signal })
    } catch (err) {
      stream.abort(err as Error)
      throw err
    }
  }

  /** Prefers a direct connection (opening a WebRTC one if possible), else any, relayed included. */
  private async openStream (peer: PeerId, signal: AbortSignal): Promise<{ stream: Stream, path: ChatPath }> {
    const open = (): Connection[] => this.components.connectionManager.getConnections(peer).filter(connection => connection.status === 'open')
    // The connection duplicate pruning keeps (the newest after a reload, when the old one may be
    // dead before WebRTC notices; the smaller ID's dial after a simultaneous dial), never the one
    // about to be closed with this stream on it.
    let connection = preferredConnection(this.components.peerId, open().filter(candidate => candidate.limits == null))
    if (connection == null && this.options.preferDirect) {
      const known = await this.components.peerStore.get(peer, { signal }).then(info => info.addresses.map(address => address.multiaddr), () => [])
      const address = webrtcAddressFor(peer, known)
      if (address != null) {
        connection = await this.components.connectionManager.openConnection(address, { signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)]) })
          .catch((err: unknown) => {
            this.log('no direct connection to %p, falling back to the relay - %e', peer, err)
            return undefined
          })
      }
    }
    connection ??= open()[0] ?? await this.components.connectionManager.openConnection(peer, { signal })
    const stream = await connection.newStream(CHAT_PROTOCOL, { signal: AbortSignal.any([signal, AbortSignal.timeout(STREAM_OPEN_TIMEOUT_MS)]), runOnLimitedConnection: true })
    return { stream, path: chatPathOf(connection) }
  }

  /** Handles one inbound chat stream: every message is stored, then acknowledged. */
  private async receive (stream: Stream, connection: Connection): Promise<void> {
    // The sender is the authenticated remote peer of the connection, never a field of the message.
    const peer = connection.remotePeer.toString()
    this.history.setPath(peer, chatPathOf(connection))
    const lp = lpStream(stream, { maxDataLength: MAX_CHAT_FRAME_BYTES, lengthDecoder: decodeChatFrameLength })
    try {
      for (;;) {
        let data
        try {
          data = await lp.read({ signal: AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(this.options.idleTimeoutMs)]) })
        } catch (err) {
          if ((err as Error).name === 'UnexpectedEOFError') break
          throw err
        }
        const frame = decodeChatFrame(data)
        if (frame.kind !== 'message') throw new ChatProtocolError('expected a message', 'unexpected-frame')
        await this.limiter.take(peer, this.shutdown.signal)
        await this.history.addIncoming(peer, {
          id: toString(frame.id, 'base16'),
          sequence: Number(frame.sequence),
          text: frame.text,
          sentAt: frame.sentAt,
          receivedAt: Date.now()
        })
        await lp.write(encodeChatFrame({ kind: 'ack', id: frame.id, sequence: frame.sequence }))
      }
      await stream.close().catch(() => {})
    } catch (err) {
      // Only this stream is reset; the node and other conversations carry on.
      this.log.error('chat stream from %s reset - %e', peer, err)
      stream.abort(err as Error)
    }
  }
}

/** Streams sometimes fail with a DOM Event rather than an Error; say something useful either way. */
/** A stream that does not open this fast is on a dead connection; retry on another. */
const STREAM_OPEN_TIMEOUT_MS = 5_000

function describeFailure (err: unknown): string {
  if (err instanceof Error) return err.message
  if (typeof Event !== 'undefined' && err instanceof Event) return `connection ${err.type}`
  return String(err)
}

function chatPathOf (connection: Connection): ChatPath {
  const transport = classifyTransport(connection.remoteAddr)
  return transport === 'relayed' || transport === 'webrtc' ? transport : 'direct'
}

/** libp2p service factory: `services: { chat: webkadChat({ datastore }) }`. */
export function webkadChat (init: ChatServiceInit = {}): (components: ChatServiceComponents) => ChatService {
  return (components) => new WebkadChat(components, init)
}
