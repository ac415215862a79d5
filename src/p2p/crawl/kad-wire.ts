import { Record as Libp2pRecord } from '@libp2p/kad-dht'
import { peerIdFromMultihash } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import * as Digest from 'multiformats/hashes/digest'
import { CrawlProtocolError } from '../errors.ts'
import { Message, MessageType } from './pb/kad-message.ts'
import type { AbortOptions, PeerId, Stream } from '@libp2p/interface'
import type { LengthPrefixedStream } from '@libp2p/utils'
import type { Multiaddr } from '@multiformats/multiaddr'

/**
 * The crawler's side of the standard kad-dht wire protocol: length-prefixed protobuf messages,
 * several requests in turn on one stream (servers must handle more than one message per stream,
 * and answer in order). Answers are decoded field by field, so an answer with thousands of peers
 * costs no more than its first `maxPeers`.
 */

/** The largest answer read (kad-dht's own answers with 20 peers are a few KiB; records up to 11 KiB). */
export const MAX_ANSWER_BYTES = 256 * 1024
/** Addresses kept per peer in an answer. */
export const MAX_ADDRESSES_PER_PEER = 16

export interface AnsweredPeer {
  peerId: PeerId
  addresses: Multiaddr[]
}

export interface FindNodeAnswer {
  peers: AnsweredPeer[]
  /** Entries beyond `maxPeers`, and entries that were not valid peers, dropped. */
  dropped: number
}

export interface GetValueAnswer {
  /** The record's value (a webkad signed envelope), if the peer holds one. */
  value?: Uint8Array
  closer: number
}

export class KadWire {
  private readonly lp: LengthPrefixedStream<Stream>

  constructor (readonly stream: Stream) {
    this.lp = lpStream(stream, { maxDataLength: MAX_ANSWER_BYTES })
  }

  /** Sends FIND_NODE for `key`; keeps the first `maxPeers` valid peers of the answer. */
  async findNode (key: Uint8Array, options: AbortOptions & { maxPeers: number }): Promise<FindNodeAnswer> {
    const answer = await this.request(MessageType.FIND_NODE, key, options)
    const peers: AnsweredPeer[] = []
    let dropped = 0
    let current: { id?: Uint8Array, addresses: Uint8Array[], index: number } | undefined
    let lastSkipped = -1
    const finish = (): void => {
      if (current == null) return
      const peer = toAnsweredPeer(current.id, current.addresses)
      if (peer == null || peers.length >= options.maxPeers) dropped++
      else peers.push(peer)
      current = undefined
    }
    try {
      for (const event of Message.stream(answer)) {
        const name = fieldPath(event.field)
        if (name === 'type' && event.value !== MessageType.FIND_NODE) throw new CrawlProtocolError(`answered FIND_NODE with message type ${String(event.value)}`)
        if (name !== 'closer[].id' && name !== 'closer[].multiaddrs[]') continue
        const field = event as Message.MessageCloserIdFieldEvent | Message.MessageCloserMultiaddrsFieldEvent
        if (current?.index !== field.index) finish()
        // Past the cap, only count: the rest of the frame is skipped without decoding addresses.
        if (peers.length >= options.maxPeers) {
          if (field.index !== lastSkipped) dropped++
          lastSkipped = field.index
          continue
        }
        current ??= { addresses: [], index: field.index }
        if (name === 'closer[].id') current.id = field.value
        else if (current.addresses.length < MAX_ADDRESSES_PER_PEER) current.addresses.push(field.value)
      }
    } catch (err) {
      if (err instanceof CrawlProtocolError) throw err
      throw new CrawlProtocolError(`malformed FIND_NODE answer: ${(err as Error).message}`)
    }
    finish()
    return { peers, dropped }
  }

  /** Sends GET_VALUE for `key`; the record value the peer holds, if any. */
  async getValue (key: Uint8Array, options: AbortOptions = {}): Promise<GetValueAnswer> {
    const answer = await this.request(MessageType.GET_VALUE, key, options)
    let message: Message
    try {
      message = Message.decode(answer, { limits: { closer: 100 } })
    } catch (err) {
      throw new CrawlProtocolError(`malformed GET_VALUE answer: ${(err as Error).message}`)
    }
    if (message.type !== MessageType.GET_VALUE) throw new CrawlProtocolError(`answered GET_VALUE with message type ${message.type}`)
    if (message.record == null || message.record.byteLength === 0) return { closer: message.closer.length }
    try {
      const record = Libp2pRecord.deserialize(message.record)
      return { value: record.value, closer: message.closer.length }
    } catch (err) {
      throw new CrawlProtocolError(`GET_VALUE answer holds no valid libp2p record: ${(err as Error).message}`)
    }
  }

  /** Ends the stream; the server sees a clean end between messages. */
  async close (options: AbortOptions = {}): Promise<void> {
    await this.stream.close(options).catch(() => { this.stream.abort(new Error('crawl stream close failed')) })
  }

  abort (err: Error): void {
    this.stream.abort(err)
  }

  private async request (type: MessageType, key: Uint8Array, options: AbortOptions): Promise<Uint8Array> {
    await this.lp.write(Message.encode({ type, key: key as Uint8Array<ArrayBuffer>, closer: [] }), options)
    try {
      return (await this.lp.read(options)).subarray()
    } catch (err) {
      if ((err as Error).name === 'InvalidDataLengthError') throw new CrawlProtocolError(`answer larger than ${MAX_ANSWER_BYTES} bytes`)
      throw err
    }
  }
}

/**
 * A streamed field's path without its root: the generated code names the root `$`, while
 * protons-runtime 7 streams with the root `.` (`..closer[].id`), so exact names never matched.
 */
export function fieldPath (field: string): string {
  return field.replace(/^[$.]?\./, '')
}

function toAnsweredPeer (id: Uint8Array | undefined, addressBytes: Uint8Array[]): AnsweredPeer | undefined {
  if (id == null) return undefined
  try {
    const peerId = peerIdFromMultihash(Digest.decode(id))
    const addresses: Multiaddr[] = []
    for (const bytes of addressBytes) {
      try { addresses.push(multiaddr(bytes)) } catch { /* an unreadable address is skipped, the peer kept */ }
    }
    return { peerId, addresses }
  } catch {
    return undefined
  }
}
