/**
 * kad-dht requests on reused streams (patches/@libp2p+kad-dht+16.4.5.patch, network.js and
 * rpc/index.js), on real webkad nodes over the in-memory transport. A client keeps idle DHT
 * streams per peer, one request at a time on each, as go-libp2p-kad-dht's message sender does;
 * `reuseStreams: false` is kad-dht 16.4.5's behaviour (a stream per request), the "stock" peer
 * here. Hostile servers are webkad nodes whose DHT handler is replaced (kad-dht-streams-kit.ts).
 * The reuse tests fail against the unpatched package (it ignores `reuseStreams`).
 */
import { fromString } from 'uint8arrays'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { DHT_PROTOCOL } from '../../src/p2p/constants.ts'
import { createSignedRecord } from '../../src/p2p/dht/records.ts'
import { QUIET_DHT, startMemoryNode } from '../helpers/nodes.ts'
import { Message, MessageType } from '../helpers/pb/dht.ts'
import { streamEnd } from '../helpers/streams.ts'
import { varint } from '../helpers/varint.ts'
import { within } from '../helpers/wait.ts'
import { abortAfter, echo, keyOf, logDhtStreams, putTo, serveKad, sleep } from './kad-dht-streams-kit.ts'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import type { WebkadNode } from '../../src/p2p/node.ts'
import type { KadDHTInit } from '@libp2p/kad-dht'
import type { PrivateKey, Stream } from '@libp2p/interface'

const nodes: WebkadNode[] = []

afterEach(async () => {
  await Promise.all(nodes.splice(0).map(async node => { await node.stop() }))
})

/** A DHT client that only does what the test asks (QUIET_DHT), with the pool on or off. */
async function startClient (dht: Partial<KadDHTInit> = {}): Promise<WebkadNode> {
  const node = await startMemoryNode({ name: 'sender-client', dht: { ...QUIET_DHT, ...dht } })
  nodes.push(node)
  return node
}

/** A webkad DHT server (what a tab runs), patched or stock (`reuseStreams: false`). */
async function startServer (dht: Partial<KadDHTInit> = {}): Promise<WebkadNode> {
  const node = await startMemoryNode({ name: 'sender-server', dht })
  nodes.push(node)
  return node
}

/** A webkad node whose DHT handler the test replaces (serveKad). */
async function startHandServer (): Promise<WebkadNode> {
  const node = await startMemoryNode({ name: 'sender-hand', dht: QUIET_DHT })
  nodes.push(node)
  return node
}

async function connect (client: WebkadNode, server: WebkadNode): Promise<void> {
  await client.dial(server.getMultiaddrs()[0]!)
}

/** Values a real server accepts: signed webkad records, one per key. */
async function signedRecords (count: number, prefix: string): Promise<Array<{ key: string, value: Uint8Array }>> {
  const author: PrivateKey = await generateKeyPair('Ed25519')
  const authorId = peerIdFromPrivateKey(author)
  return await Promise.all(Array.from({ length: count }, async (_, index) => {
    const key = `/webkad/${prefix}-${index}`
    return { key, value: await createSignedRecord(author, authorId, { key, payload: { type: 'text', text: `value ${index}` }, sequence: 1n }) }
  }))
}

const STOCK_EVENTS = ['DIAL_PEER', 'SEND_QUERY', 'PEER_RESPONSE']

describe('kad-dht requests on reused streams (patched message sender)', () => {
  it('a pooled client sends 30 sequential requests to a stock server on one stream; a stock client uses 30', async () => {
    const records = await signedRecords(30, 'seq')
    for (const [clientInit, serverInit, expectedStreams] of [
      [{}, { reuseStreams: false }, 1],
      [{ reuseStreams: false }, {}, 30],
      [{}, {}, 1]
    ] as const) {
      const client = await startClient(clientInit)
      const server = await startServer(serverInit)
      await connect(client, server)
      const log = logDhtStreams(client)
      const listeners: number[] = []
      for (const { key, value } of records) {
        const outcome = await putTo(client, server.peerId, key, value)
        // The same answer and the same events as kad-dht's stock code.
        expect(outcome, `${key} (client ${JSON.stringify(clientInit)}, server ${JSON.stringify(serverInit)})`).toEqual({ ownAnswer: true, answeredKey: key, events: STOCK_EVENTS, errors: [] })
        listeners.push(log.streams.at(-1)!.listenerCount('message'))
      }
      expect(log.streams.length, `streams opened for 30 requests (client ${JSON.stringify(clientInit)}, server ${JSON.stringify(serverInit)})`).toBe(expectedStreams)
      expect(log.sendsAfterEnd).toBe(0)
      // One reader per stream: a new one per request would add a 'message' listener each time.
      expect(new Set(listeners).size, `'message' listeners on the stream after each request: ${listeners.join(' ')}`).toBe(1)
    }
  })

  it('a server that ends its side after one reply: the next request is retried on a new stream, no error surfaces; after 3 retries, a stream per request', async () => {
    const client = await startClient()
    const server = await startHandServer()
    const stats = await serveKad(server, async (request, { lp, stream, messageNumber }) => {
      // A request the client wrote on a stream this server had ended: read, never answered.
      if (messageNumber > 1) return false
      await lp.write(echo(request))
      // Long enough for the client to reuse the stream for its next request.
      await sleep(50)
      await stream.close()
      return true
    })
    await connect(client, server)
    const log = logDhtStreams(client)
    for (let index = 0; index < 7; index++) {
      const key = `/webkad/closing-${index}`
      expect(await putTo(client, server.peerId, key, fromString(key)), key).toEqual({ ownAnswer: true, answeredKey: key, events: STOCK_EVENTS, errors: [] })
    }
    // Requests 2-4 each went on the stream before, found it ended, and were retried on a new
    // one; after that 3rd retry the client stops reusing streams to this server, so requests
    // 5-7 are each written once, on a stream of their own.
    expect(stats.streams).toBe(7)
    expect(log.streams.length).toBe(7)
    expect(stats.requests, 'requests 2-4 written twice: on the ended stream, then on a new one').toBe(10)
  })

  it('a server that answers after the request\'s own timeout (networkDialTimeout): the timed-out stream is never reused, the next request gets its own answer', async () => {
    // kad-dht's per-request timeout, not the caller's signal (a caller's abort drains the
    // stream instead, see the drain tests below).
    const client = await startClient({ networkDialTimeout: { minTimeout: 100, maxTimeout: 100 } })
    const server = await startHandServer()
    await serveKad(server, async (request, { lp }) => {
      if (request.key != null && new TextDecoder().decode(request.key).startsWith('/webkad/slow')) await sleep(300)
      await lp.write(echo(request))
      return true
    })
    await connect(client, server)
    const log = logDhtStreams(client)
    expect((await putTo(client, server.peerId, '/webkad/fast-0', fromString('fast-0'))).ownAnswer).toBe(true)
    const slow = await putTo(client, server.peerId, '/webkad/slow', fromString('slow'))
    expect(slow.events).toEqual(['DIAL_PEER', 'SEND_QUERY', 'QUERY_ERROR'])
    for (let index = 1; index <= 3; index++) {
      const key = `/webkad/fast-${index}`
      const outcome = await putTo(client, server.peerId, key, fromString(key))
      expect(outcome, `${key} after the timed-out request`).toMatchObject({ ownAnswer: true, answeredKey: key, errors: [] })
    }
    // Let the late reply arrive: it must not have reached any later request (checked above).
    await sleep(300)
    expect(await streamEnd(log.streams[0]!, 0), 'the stream that timed out').toBe('aborted')
    expect(log.streams.length, 'one stream before the timeout, one after').toBe(2)
  })

  it('a server that answers twice (at once, or later while the stream is idle): the extra reply never answers the next request', async () => {
    for (const delay of [0, 30]) {
      const client = await startClient()
      const server = await startHandServer()
      await serveKad(server, async (request, { lp }) => {
        if (delay === 0) {
          // Both copies in one write: the second sits behind the first in the client's buffer.
          await lp.writeV([echo(request), echo(request)])
        } else {
          await lp.write(echo(request))
          await sleep(delay)
          await lp.write(echo(request))
        }
        return true
      })
      await connect(client, server)
      const log = logDhtStreams(client)
      for (let index = 0; index < 4; index++) {
        const key = `/webkad/twice-${delay}-${index}`
        expect(await putTo(client, server.peerId, key, fromString(key)), `${key} (second copy after ${delay} ms)`).toEqual({ ownAnswer: true, answeredKey: key, events: STOCK_EVENTS, errors: [] })
        // Let the delayed copy arrive before the next request.
        await sleep(delay * 2)
      }
      expect(log.streams.length, 'no stream with an extra reply in it was reused').toBe(4)
    }
  })

  it('a server that resets in the middle of a reply: a reused stream is retried once, a fresh one fails; later requests work', async () => {
    const client = await startClient()
    const server = await startHandServer()
    const stats = await serveKad(server, async (request, { lp, stream, messageNumber }) => {
      const failing = messageNumber === 2 || (request.key != null && new TextDecoder().decode(request.key) === '/webkad/always-reset')
      if (failing) {
        // Half a reply, then a reset.
        const reply = echo(request)
        stream.send(Uint8Array.from([...varint(reply.byteLength), ...reply.subarray(0, reply.byteLength >> 1)]))
        await sleep(10)
        stream.abort(new Error('reset mid-reply'))
        return false
      }
      await lp.write(echo(request))
      return true
    })
    await connect(client, server)
    const log = logDhtStreams(client)
    const outcomes: Record<string, Awaited<ReturnType<typeof putTo>>> = {}
    for (const name of ['a', 'b', 'c', 'always-reset', 'e', 'f']) {
      const key = `/webkad/${name}`
      outcomes[name] = await putTo(client, server.peerId, key, fromString(key))
    }
    for (const name of ['a', 'b', 'c', 'e', 'f']) {
      expect(outcomes[name], name).toEqual({ ownAnswer: true, answeredKey: `/webkad/${name}`, events: STOCK_EVENTS, errors: [] })
    }
    // Reset on its reused stream and on the fresh one of its retry: it fails, once.
    expect(outcomes['always-reset']?.events).toEqual(['DIAL_PEER', 'SEND_QUERY', 'QUERY_ERROR'])
    // a: S1; b: S1 reset, S2; c: S2 reset, S3; always-reset: S3 reset, S4 reset (3rd retry: no
    // more reuse); e: S5; f: S6.
    expect(log.streams.length).toBe(6)
    expect(stats.requests).toBe(9)
    expect(client.getConnections(server.peerId).some(connection => connection.status === 'open'), 'the connection survives').toBe(true)
  })

  it('a peer that disconnects while streams are pooled: they are dropped with the connection, and after a reconnect requests work on new streams', async () => {
    const records = await signedRecords(12, 'reconnect')
    const client = await startClient()
    const server = await startServer()
    await connect(client, server)
    const log = logDhtStreams(client)
    // Three at once: three streams, all idle in the pool afterwards.
    const first = await Promise.all(records.slice(0, 3).map(async ({ key, value }) => await putTo(client, server.peerId, key, value)))
    expect(first.every(outcome => outcome.ownAnswer)).toBe(true)
    expect(log.streams.length).toBe(3)
    expect(log.open, 'idle in the pool').toBe(3)
    for (let round = 0; round < 3; round++) {
      await client.hangUp(server.peerId)
      await vi.waitFor(() => { expect(log.open).toBe(0) }, within(5000))
      await connect(client, server)
      const opened = log.streams.length
      const again = await Promise.all(records.slice(3 + round * 3, 6 + round * 3).map(async ({ key, value }) => await putTo(client, server.peerId, key, value)))
      expect(again.map(outcome => outcome.errors), `round ${round}`).toEqual([[], [], []])
      expect(again.every(outcome => outcome.ownAnswer)).toBe(true)
      // Nothing was written to a stream of the closed connection, and new streams were opened.
      expect(log.sendsAfterEnd, `round ${round}: writes to dead streams`).toBe(0)
      expect(log.streams.length - opened).toBe(3)
    }
  })

  it('20 concurrent requests to one peer: each answered with its own reply, one request per stream at a time, and a second burst reuses streams', async () => {
    const client = await startClient()
    const server = await startHandServer()
    const stats = await serveKad(server, async (request, { lp }) => {
      // Replies in another order than the requests.
      await sleep(Math.floor(Math.random() * 20))
      await lp.write(echo(request))
      return true
    })
    await connect(client, server)
    const log = logDhtStreams(client)
    for (let burst = 0; burst < 2; burst++) {
      // The streams burst 1 did not keep are closing: let them go before counting again.
      await vi.waitFor(() => { expect(log.open).toBeLessThanOrEqual(8) }, within(5000))
      const keys = Array.from({ length: 20 }, (_, index) => `/webkad/burst-${burst}-${index}`)
      const outcomes = await Promise.all(keys.map(async key => await putTo(client, server.peerId, key, fromString(`value of ${key}`))))
      outcomes.forEach((outcome, index) => {
        expect(outcome, keys[index]).toEqual({ ownAnswer: true, answeredKey: keys[index], events: STOCK_EVENTS, errors: [] })
      })
    }
    expect(stats.pipelined, 'requests sent on a stream before its previous reply').toBe(0)
    expect(log.maxOpen, 'streams open at once').toBeLessThanOrEqual(20)
    // Burst 1 opens 20 streams and keeps 8 (maxIdleStreamsPerPeer); burst 2 reuses those 8.
    expect(log.streams.length).toBe(32)
  })

  it('idle streams close after idleTimeout, cleanly at both ends with a patched server (reset by a stock one), well before its 10 s timeout', async () => {
    const records = await signedRecords(2, 'idle')
    for (const [serverInit, expected] of [[{}, 'closed'], [{ reuseStreams: false }, 'reset']] as const) {
      const client = await startClient({ reuseStreams: { idleTimeout: 200 } })
      const server = await startServer(serverInit)
      await connect(client, server)
      const log = logDhtStreams(client)
      expect((await putTo(client, server.peerId, records[0]!.key, records[0]!.value)).ownAnswer).toBe(true)
      const pooled = log.streams[0]!
      const inbound = server.getConnections(client.peerId).flatMap(connection => connection.streams).find(stream => stream.protocol === DHT_PROTOCOL && stream.direction === 'inbound')
      expect(pooled.status, 'idle, still open after the reply').toBe('open')
      const started = Date.now()
      expect(await streamEnd(pooled, 3000), `client end with server ${JSON.stringify(serverInit)}`).toBe(expected)
      expect(Date.now() - started).toBeLessThan(2000)
      if (inbound != null) expect(await streamEnd(inbound, 3000), 'server end').toBe(expected === 'closed' ? 'closed' : 'aborted')
      // The next request opens a new stream and works.
      expect((await putTo(client, server.peerId, records[1]!.key, records[1]!.value)).ownAnswer).toBe(true)
      expect(log.streams.length).toBe(2)
    }
  })
})

describe('kad-dht requests their caller aborts: the stream drains the late reply (patched message sender)', () => {
  const ABORTED_EVENTS = ['DIAL_PEER', 'SEND_QUERY', 'QUERY_ERROR']

  /**
   * A hand-written server that echoes every request, after `delays(key)` ms, and records the
   * server stream (1 = the first it accepted) each key arrived on. A key `delays` maps to
   * `'never'` is read and never answered.
   */
  async function delayingServer (delays: (key: string) => number | 'never' | 'twice' | 'twice-later'): Promise<{ server: WebkadNode, arrivedOn: Map<string, number> }> {
    const server = await startHandServer()
    const arrivedOn = new Map<string, number>()
    await serveKad(server, async (request, { lp, streamNumber }) => {
      const key = keyOf(request)
      arrivedOn.set(key, streamNumber)
      const delay = delays(key)
      if (delay === 'never') return true
      if (delay === 'twice') {
        // A hostile server: two replies to one request, late, in one write.
        await sleep(100)
        await lp.writeV([echo(request), echo(request)])
      } else if (delay === 'twice-later') {
        // Two late replies, the second once the first has been drained.
        await sleep(100)
        await lp.write(echo(request))
        await sleep(30)
        await lp.write(echo(request))
      } else {
        await sleep(delay)
        await lp.write(echo(request))
      }
      return true
    })
    return { server, arrivedOn }
  }

  const own = (key: string): Record<string, unknown> => ({ ownAnswer: true, answeredKey: key, events: STOCK_EVENTS, errors: [] })

  it('a request aborted by its caller while the server delays its reply: the next request reuses the same stream and gets its own answer, not the late one', async () => {
    const client = await startClient()
    const { server, arrivedOn } = await delayingServer(key => key.startsWith('/webkad/late') ? 150 : 0)
    await connect(client, server)
    const log = logDhtStreams(client)
    expect(await putTo(client, server.peerId, '/webkad/first', fromString('first'))).toEqual(own('/webkad/first'))
    // Aborted 30 ms in, as kad-dht aborts a query's requests still in flight when it ends: the
    // caller sees what it always did, at once.
    const started = Date.now()
    const late = await putTo(client, server.peerId, '/webkad/late-0', fromString('late-0'), abortAfter(30))
    expect(late.events).toEqual(ABORTED_EVENTS)
    expect(Date.now() - started, 'the aborted request ends when its caller aborts, not when the drain does').toBeLessThan(120)
    // While the stream drains, a request goes elsewhere: on the draining stream it would be
    // answered by the late reply.
    expect(await putTo(client, server.peerId, '/webkad/during', fromString('during')), 'a request during the drain').toEqual(own('/webkad/during'))
    expect(arrivedOn.get('/webkad/during'), 'not on the draining stream').toBe(2)
    // Once the late reply has come and been discarded, the stream is back in the pool, open.
    await sleep(200)
    expect(log.streams[0]!.status, 'the drained stream').toBe('open')
    expect(await putTo(client, server.peerId, '/webkad/after', fromString('after')), 'the request after the drain').toEqual(own('/webkad/after'))
    expect(arrivedOn.get('/webkad/after'), 'on the drained stream').toBe(1)
    // Abort, then request again: no new stream each time.
    for (let round = 1; round <= 3; round++) {
      const aborted = await putTo(client, server.peerId, `/webkad/late-${round}`, fromString(`late-${round}`), abortAfter(30))
      expect(aborted.events).toEqual(ABORTED_EVENTS)
      await sleep(200)
      const key = `/webkad/again-${round}`
      expect(await putTo(client, server.peerId, key, fromString(key)), key).toEqual(own(key))
    }
    expect(log.streams.length, 'streams opened: the first, and one for the request during the drain').toBe(2)
    expect(log.sendsAfterEnd).toBe(0)
  })

  it('a drain whose reply never comes is dropped after its bound (the request\'s own timeout); the next request opens a fresh stream and is answered', async () => {
    const client = await startClient({ networkDialTimeout: { minTimeout: 300, maxTimeout: 300 } })
    const { server, arrivedOn } = await delayingServer(key => key.startsWith('/webkad/never') ? 'never' : 0)
    await connect(client, server)
    const log = logDhtStreams(client)
    expect(await putTo(client, server.peerId, '/webkad/first', fromString('first'))).toEqual(own('/webkad/first'))
    const started = Date.now()
    expect((await putTo(client, server.peerId, '/webkad/never', fromString('never'), abortAfter(30))).events).toEqual(ABORTED_EVENTS)
    const drained = log.streams[0]!
    await sleep(100)
    expect(drained.status, 'draining, 130 ms in').toBe('open')
    expect(await streamEnd(drained, 2000), 'the drained stream, at its bound').toBe('aborted')
    const ended = Date.now() - started
    expect(ended, 'dropped at the request\'s 300 ms timeout').toBeGreaterThanOrEqual(250)
    expect(ended).toBeLessThan(1000)
    expect(await putTo(client, server.peerId, '/webkad/next', fromString('next'))).toEqual(own('/webkad/next'))
    expect(arrivedOn.get('/webkad/next'), 'on a fresh stream').toBe(2)
    expect(log.streams.length).toBe(2)
  })

  it('a drain that receives two replies (at once, or the second once the stream is idle again) drops the stream; the next request gets its own answer', async () => {
    for (const hostile of ['twice', 'twice-later'] as const) {
      const client = await startClient()
      const { server, arrivedOn } = await delayingServer(key => key.startsWith('/webkad/hostile') ? hostile : 0)
      await connect(client, server)
      const log = logDhtStreams(client)
      expect(await putTo(client, server.peerId, '/webkad/first', fromString('first'))).toEqual(own('/webkad/first'))
      expect((await putTo(client, server.peerId, '/webkad/hostile', fromString('hostile'), abortAfter(30))).events).toEqual(ABORTED_EVENTS)
      // Both replies have come.
      await sleep(250)
      expect(await streamEnd(log.streams[0]!, 0), `${hostile}: the stream that got two replies`).toBe('aborted')
      expect(await putTo(client, server.peerId, '/webkad/next', fromString('next')), hostile).toEqual(own('/webkad/next'))
      expect(arrivedOn.get('/webkad/next'), `${hostile}: on a fresh stream`).toBe(2)
      expect(log.streams.length).toBe(2)
    }
  })

  it('a disconnect or a DHT stop during a drain ends it at once: the stream aborted, the drain\'s timer cleared; after a reconnect requests work', async () => {
    for (const end of ['disconnect', 'stop'] as const) {
      // A drain bound of ~4.3 s (the request's own timeout) tells the drain's timer apart.
      const client = await startClient({ networkDialTimeout: { minTimeout: 4321, maxTimeout: 4321 } })
      const { server } = await delayingServer(key => key.startsWith('/webkad/late') ? 1000 : 0)
      await connect(client, server)
      const log = logDhtStreams(client)
      expect(await putTo(client, server.peerId, '/webkad/first', fromString('first'))).toEqual(own('/webkad/first'))
      const setTimeoutSpy = vi.spyOn(globalThis, 'setTimeout')
      const clearTimeoutSpy = vi.spyOn(globalThis, 'clearTimeout')
      try {
        expect((await putTo(client, server.peerId, '/webkad/late', fromString('late'), abortAfter(30))).events).toEqual(ABORTED_EVENTS)
        const drainTimers = setTimeoutSpy.mock.calls.flatMap((call, index) => {
          const delay = call[1] ?? 0
          return delay > 4000 && delay <= 4321 ? [setTimeoutSpy.mock.results[index]?.value] : []
        })
        expect(drainTimers, `${end}: one drain timer`).toHaveLength(1)
        expect(log.streams[0]!.status, `${end}: draining`).toBe('open')
        const started = Date.now()
        if (end === 'disconnect') await client.hangUp(server.peerId)
        else await client.stop()
        expect(await streamEnd(log.streams[0]!, 500), `${end}: the draining stream`).not.toBe('open')
        expect(Date.now() - started, `${end}: before the late reply`).toBeLessThan(800)
        expect(clearTimeoutSpy.mock.calls.map(call => call[0]), `${end}: the drain's timer cleared`).toContain(drainTimers[0])
      } finally {
        setTimeoutSpy.mockRestore()
        clearTimeoutSpy.mockRestore()
      }
      if (end === 'disconnect') {
        await connect(client, server)
        expect(await putTo(client, server.peerId, '/webkad/next', fromString('next'))).toEqual(own('/webkad/next'))
        expect(log.streams.length).toBe(2)
      }
    }
  })
})

describe('kad-dht server: a stream its client ends between messages (patched rpc)', () => {
  /** A raw DHT stream from a client to `server`, a PING answered on it, then `end` applied. */
  async function pingThenEnd (server: WebkadNode, end: (stream: Stream) => Promise<void>): Promise<{ client: string, server: string }> {
    const client = await startClient()
    await connect(client, server)
    const stream = await client.dialProtocol(server.peerId, DHT_PROTOCOL, { signal: AbortSignal.timeout(5000) })
    const lp = lpStream(stream)
    await lp.write(Message.encode({ type: MessageType.PING, closer: [], providers: [] }))
    expect(Message.decode(await lp.read({ signal: AbortSignal.timeout(5000) })).type).toBe(MessageType.PING)
    const inbound = server.getConnections(client.peerId).flatMap(connection => connection.streams).find(candidate => candidate.protocol === DHT_PROTOCOL && candidate.direction === 'inbound')
    expect(inbound, 'the server\'s end of the stream').toBeDefined()
    await end(stream)
    return { client: await streamEnd(stream), server: await streamEnd(inbound!) }
  }

  it('ended after a reply: closed at both ends; stock kad-dht resets it', async () => {
    const patched = await startServer()
    expect(await pingThenEnd(patched, async (stream) => { await stream.close() })).toEqual({ client: 'closed', server: 'closed' })
    const stock = await startServer({ reuseStreams: false })
    expect(await pingThenEnd(stock, async (stream) => { await stream.close() })).toEqual({ client: 'reset', server: 'aborted' })
  })

  it('ended in the middle of a message: still reset', async () => {
    const patched = await startServer()
    expect(await pingThenEnd(patched, async (stream) => {
      // A length prefix for 10 bytes, and 3 of them.
      stream.send(Uint8Array.of(10, 8, 5, 0))
      await stream.close()
    })).toEqual({ client: 'reset', server: 'aborted' })
  })
})
