import { lpStream } from '@libp2p/utils'
import { equals, fromString, toString } from 'uint8arrays'
import { DHT_PROTOCOL } from '../../src/p2p/constants.ts'
import { kadInternals } from '../../src/p2p/dht/kad-internals.ts'
import { Message } from '../helpers/pb/dht.ts'
import { varint } from '../helpers/varint.ts'
import type { WebkadNode } from '../../src/p2p/node.ts'
import type { DHTRecord, QueryEvent } from '@libp2p/kad-dht'
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import type { LengthPrefixedStream } from '@libp2p/utils'

/**
 * What the kad-dht message-sender tests (kad-dht-message-sender.test.ts) need around real
 * webkad nodes: a record of every DHT stream a node opens, kad-dht servers written by hand
 * (to misbehave on purpose), and one PUT_VALUE to one peer with its answer and events.
 */

/** Every /webkad/kad/1.0.0 stream a node opened, seen through each connection's newStream. */
export interface DhtStreamLog {
  /** In the order they were opened. */
  readonly streams: Stream[]
  /** How many are open now. */
  readonly open: number
  /** The most that were open at once. */
  readonly maxOpen: number
  /** send() calls on a stream that was no longer open and writable (a dead stream reused). */
  readonly sendsAfterEnd: number
}

export function logDhtStreams (node: WebkadNode): DhtStreamLog {
  const streams: Stream[] = []
  let open = 0
  let maxOpen = 0
  let sendsAfterEnd = 0
  const track = (stream: Stream): void => {
    streams.push(stream)
    open++
    maxOpen = Math.max(maxOpen, open)
    stream.addEventListener('close', () => { open-- }, { once: true })
    const send = stream.send.bind(stream)
    stream.send = (data) => {
      if (stream.status !== 'open' || stream.writeStatus !== 'writable') sendsAfterEnd++
      return send(data)
    }
  }
  const wrapped = new WeakSet<Connection>()
  const wrap = (connection: Connection): void => {
    if (wrapped.has(connection)) return
    wrapped.add(connection)
    const newStream = connection.newStream.bind(connection)
    connection.newStream = async (protocols, options) => {
      const stream = await newStream(protocols, options)
      if (stream.protocol === DHT_PROTOCOL) track(stream)
      return stream
    }
  }
  for (const connection of node.getConnections()) wrap(connection)
  node.addEventListener('connection:open', (event) => { wrap(event.detail) })
  return {
    streams,
    get open () { return open },
    get maxOpen () { return maxOpen },
    get sendsAfterEnd () { return sendsAfterEnd }
  }
}

/** Where a hand-written server is when a request arrives. */
export interface KadRequestContext {
  stream: Stream
  lp: LengthPrefixedStream<Stream>
  /** 1 for the first stream the server accepted. */
  streamNumber: number
  /** 1 for the first request on this stream. */
  messageNumber: number
}

/**
 * Answers one request: writes a reply (or not), may sleep, reset or close. `false` stops
 * reading the stream (the responder then owns how it ends).
 */
export type KadResponder = (request: Message, context: KadRequestContext) => Promise<boolean | undefined>

export interface KadServerStats {
  /** Streams accepted. */
  readonly streams: number
  /** The most streams open at once. */
  readonly maxOpen: number
  /** Requests that arrived on a stream while the one before was still unanswered. */
  readonly pipelined: number
  readonly requests: number
}

/**
 * Replaces `node`'s DHT handler with `respond`, speaking length-prefixed kad messages (the
 * codec generated from kad-dht's dht.proto). A stream ended between requests is closed.
 */
export async function serveKad (node: WebkadNode, respond: KadResponder): Promise<KadServerStats> {
  let streams = 0
  let open = 0
  let maxOpen = 0
  let pipelined = 0
  let requests = 0
  await node.handle(DHT_PROTOCOL, async (stream) => {
    const streamNumber = ++streams
    open++
    maxOpen = Math.max(maxOpen, open)
    stream.addEventListener('close', () => { open-- }, { once: true })
    const lp = lpStream(stream)
    let received = 0
    let consumed = 0
    stream.addEventListener('message', (event) => { received += event.data.byteLength })
    try {
      for (let messageNumber = 1; ; messageNumber++) {
        let frame
        try {
          frame = await lp.read()
        } catch (err) {
          if ((err as Error).name === 'UnexpectedEOFError' && received === consumed) {
            await stream.close()
            return
          }
          throw err
        }
        consumed += varint(frame.byteLength).byteLength + frame.byteLength
        requests++
        const request = Message.decode(frame)
        const keepReading = await respond(request, { stream, lp, streamNumber, messageNumber })
        // The client must wait for the reply before it sends again (kad has no request ids).
        if (received !== consumed) pipelined++
        if (keepReading === false) return
      }
    } catch (err) {
      stream.abort(err as Error)
    }
  }, { force: true, maxInboundStreams: 256, maxOutboundStreams: 256 })
  return {
    get streams () { return streams },
    get maxOpen () { return maxOpen },
    get pipelined () { return pipelined },
    get requests () { return requests }
  }
}

/** A kad reply that echoes the request's type, key and record (what PUT_VALUE answers). */
export function echo (request: Message): Uint8Array {
  return Message.encode({
    type: request.type,
    ...(request.key != null ? { key: request.key } : {}),
    ...(request.record != null ? { record: request.record } : {}),
    closer: [],
    providers: []
  })
}

export const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** The key of a kad request, as text ('' without one). */
export function keyOf (request: Message): string {
  return request.key == null ? '' : toString(request.key)
}

/**
 * A caller's signal aborted after `ms`, as kad-dht's query signal is when a query ends with
 * requests still in flight (an AbortController, not a timeout).
 */
export function abortAfter (ms: number): AbortSignal {
  const controller = new AbortController()
  setTimeout(() => { controller.abort() }, ms)
  return controller.signal
}

/** The outcome of one PUT_VALUE: whether the reply echoed this request's own record. */
export interface PutOutcome {
  /** The reply carried this request's key and value. */
  ownAnswer: boolean
  /** The key the reply's record carried, if any (to tell whose answer it was). */
  answeredKey?: string
  events: Array<QueryEvent['name']>
  errors: string[]
}

/**
 * PUT_VALUE of `value` under `key` to `peer` through kad-dht's own network layer
 * (kadInternals().putValueTo), with its events.
 */
export async function putTo (client: WebkadNode, peer: PeerId, key: string, value: Uint8Array, signal: AbortSignal = AbortSignal.timeout(10_000)): Promise<PutOutcome> {
  const events: Array<QueryEvent['name']> = []
  const errors: string[] = []
  let answer: DHTRecord | undefined
  await kadInternals(client.services.dht).putValueTo(peer, fromString(key), value, {
    signal,
    onEvent (event) {
      events.push(event.name)
      if (event.name === 'QUERY_ERROR') errors.push(`${event.error.name}: ${event.error.message}`)
      if (event.name === 'PEER_RESPONSE') answer = event.record
    }
  })
  return {
    ownAnswer: answer != null && toString(answer.key) === key && equals(answer.value, value),
    ...(answer != null ? { answeredKey: toString(answer.key) } : {}),
    events,
    errors
  }
}
