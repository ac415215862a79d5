import { generateKeyPair } from '@libp2p/crypto/keys'
import { Record as Libp2pRecord } from '@libp2p/kad-dht'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { concat, equals, fromString, toString } from 'uint8arrays'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { varint } from '../helpers/varint.ts'
import { DHT_PROTOCOL } from '../../src/p2p/constants.ts'
import { DhtOperations } from '../../src/p2p/dht/dht-operations.ts'
import { KAD_RECORD_PREFIX, kadInternals } from '../../src/p2p/dht/kad-internals.ts'
import { SignedRecord } from '../../src/p2p/dht/pb/record.ts'
import { createSignedRecord, recordSigningBytes, validateRecord } from '../../src/p2p/dht/records.ts'
import { startMemoryNode } from '../helpers/nodes.ts'
import { Message, MessageType } from '../helpers/pb/dht.ts'
import { settled } from '../helpers/settled.ts'
import { streamEnd } from '../helpers/streams.ts'
import { within } from '../helpers/wait.ts'
import { startDhtNetwork, stopDhtNetwork } from '../p2p/dht/dht-network.ts'
import type { TestDhtNode } from '../p2p/dht/dht-network.ts'
import type { WebkadNode } from '../../src/p2p/node.ts'
import type { Libp2p, PeerId, PrivateKey, Stream } from '@libp2p/interface'

/**
 * Hostile peers against real in-process webkad nodes (createWebkadNode on the memory transport:
 * webkad's DHT config and record guard). The misbehaving node is a webkad node whose code sends
 * bad things on purpose: PUT_VALUE of invalid records through kad-dht's own network layer, raw
 * bytes on /webkad/kad/1.0.0, and a responder (its DHT handler replaced) that answers GET_VALUE
 * with a record for another key. Well-formed kad messages go through the codec generated from
 * kad-dht's own dht.proto (test/helpers/pb/); malformed frames are written by hand.
 */

const DAY = 24 * 60 * 60 * 1000
const signal = (ms = 15_000): AbortSignal => AbortSignal.timeout(ms)

/** A kad-dht message with nothing but a type, a key and a record (kad-dht's own encoding). */
function kadMessage (fields: { type: MessageType, key?: Uint8Array, record?: Uint8Array }): Uint8Array {
  return Message.encode({
    type: fields.type,
    ...(fields.key != null ? { key: fields.key as Uint8Array<ArrayBuffer> } : {}),
    ...(fields.record != null ? { record: fields.record as Uint8Array<ArrayBuffer> } : {}),
    closer: [],
    providers: []
  })
}

// ---------------------------------------------------------------------------------------------
// helpers

function operations (peer: TestDhtNode): DhtOperations {
  return new DhtOperations(peer.node, peer.privateKey)
}

/** Every webkad record a node holds, read straight from its datastore (under the guard). */
async function storedRecords (peer: TestDhtNode): Promise<Map<string, Uint8Array>> {
  const records = new Map<string, Uint8Array>()
  for await (const { value } of peer.datastore.query({ prefix: KAD_RECORD_PREFIX })) {
    const record = Libp2pRecord.deserialize(value)
    records.set(toString(record.key), record.value)
  }
  return records
}

/** Signs arbitrary fields with `signer`, bypassing createSignedRecord's own checks. */
async function forge (signer: PrivateKey, fields: Partial<Omit<SignedRecord, 'signature' | 'author' | 'key' | 'payload'>> & { key: string, payload?: Uint8Array }, options: { author?: Uint8Array, signature?: Uint8Array } = {}): Promise<Uint8Array> {
  const now = Date.now()
  const envelope: Omit<SignedRecord, 'signature' | 'author'> = {
    payloadType: SignedRecord.PayloadType.TEXT,
    sequence: 1n,
    createdAt: BigInt(now),
    expiresAt: BigInt(now + DAY),
    ...fields,
    key: fromString(fields.key) as Uint8Array<ArrayBuffer>,
    payload: (fields.payload ?? fromString('hostile')) as Uint8Array<ArrayBuffer>
  }
  const signature = options.signature ?? await signer.sign(recordSigningBytes(envelope))
  const author = options.author ?? peerIdFromPrivateKey(signer).toMultihash().bytes
  return SignedRecord.encode({ ...envelope, author: author as Uint8Array<ArrayBuffer>, signature: signature as Uint8Array<ArrayBuffer> })
}

function connected (a: Libp2p, b: PeerId): boolean {
  return a.getConnections(b).some(connection => connection.status === 'open')
}

async function expectNoRecord (reader: TestDhtNode, key: string): Promise<void> {
  expect(await settled(operations(reader).get(key, { signal: signal() })), `honest Get of ${key}`).toMatchObject({ status: 'rejected', reason: { name: 'RecordNotFoundError' } })
}

// ---------------------------------------------------------------------------------------------

describe('a misbehaving DHT node sending PUT_VALUE with invalid records', () => {
  let nodes: TestDhtNode[]
  let mallory: TestDhtNode
  let holder: TestDhtNode
  let reader: TestDhtNode

  beforeAll(async () => {
    nodes = await startDhtNetwork(3, 20)
    ;[mallory, holder, reader] = nodes as [TestDhtNode, TestDhtNode, TestDhtNode]
  }, 60_000)

  afterAll(async () => {
    await stopDhtNetwork(nodes)
  })

  it('the holder stores none of them, resets only that stream, and an honest Get never returns them', async () => {
    const kad = kadInternals(mallory.node.services.dht)
    const honest = await operations(reader).put('/webkad/hostile-honest', { type: 'text', text: 'still served' }, { signal: signal() })
    expect(honest.accepted).toContain(holder.node.peerId.toString())
    const before = await storedRecords(holder)

    const validByMallory = await createSignedRecord(mallory.privateKey, mallory.node.peerId, { key: '/webkad/hostile-sig', payload: { type: 'text', text: 'x' }, sequence: 5n })
    const badSignature = SignedRecord.decode(validByMallory)
    badSignature.signature = new Uint8Array(badSignature.signature)
    badSignature.signature[0]! ^= 0x01
    const readerKey = `/webkad/${reader.node.peerId.toString()}/profile`
    const attacks: Array<{ name: string, key: string, value: Uint8Array, reason: string }> = [
      { name: 'bad signature', key: '/webkad/hostile-sig', value: SignedRecord.encode(badSignature), reason: 'bad-signature' },
      { name: 'wrong owner', key: readerKey, value: await forge(mallory.privateKey, { key: readerKey, sequence: 99n }), reason: 'wrong-owner' },
      { name: 'wrong key', key: '/webkad/hostile-b', value: await forge(mallory.privateKey, { key: '/webkad/hostile-a' }), reason: 'key-mismatch' },
      { name: 'expired', key: '/webkad/hostile-old', value: await forge(mallory.privateKey, { key: '/webkad/hostile-old', createdAt: BigInt(Date.now() - 2 * DAY), expiresAt: BigInt(Date.now() - DAY) }), reason: 'expired' },
      { name: 'from the future', key: '/webkad/hostile-future', value: await forge(mallory.privateKey, { key: '/webkad/hostile-future', createdAt: BigInt(Date.now() + DAY), expiresAt: BigInt(Date.now() + 2 * DAY) }), reason: 'malformed' },
      { name: 'unsigned', key: '/webkad/hostile-unsigned', value: await forge(mallory.privateKey, { key: '/webkad/hostile-unsigned' }, { signature: new Uint8Array(0) }), reason: 'unsigned' },
      { name: '64 KiB value', key: '/webkad/hostile-big', value: await forge(mallory.privateKey, { key: '/webkad/hostile-big', payload: new Uint8Array(64 * 1024).fill(7) }), reason: 'oversized' },
      { name: 'not an envelope', key: '/webkad/hostile-junk', value: Uint8Array.of(0xff, 0xff, 0xff, 0xff), reason: 'malformed' },
      { name: '4 MiB value', key: '/webkad/hostile-huge', value: await forge(mallory.privateKey, { key: '/webkad/hostile-huge', payload: new Uint8Array(4 * 1024 * 1024).fill(9) }), reason: 'oversized' }
    ]
    for (const attack of attacks) {
      // The validator's verdict, for the catalogue: every one of these is refused.
      await expect(validateRecord(fromString(attack.key), attack.value), attack.name).rejects.toMatchObject({ name: 'InvalidRecordError', reason: attack.reason })
      const stored = await kad.putValueTo(holder.node.peerId, fromString(attack.key), attack.value, { signal: signal() })
      expect(stored, `${attack.name}: the holder must not echo the record back`).toBe(false)
      expect(await holder.storedValue(fromString(attack.key)), `${attack.name}: nothing stored`).toBeUndefined()
      // Only the PUT stream was reset: the connection, and the node, carry on.
      expect(connected(holder.node, mallory.node.peerId), `${attack.name}: connection kept`).toBe(true)
      expect(holder.node.status).toBe('started')
    }
    const after = await storedRecords(holder)
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort())
    for (const attack of attacks) await expectNoRecord(reader, attack.key)
    // The honest record is still served, by the holder among others.
    const got = await operations(reader).get('/webkad/hostile-honest', { signal: signal() })
    expect(got.record.payload).toEqual({ type: 'text', text: 'still served' })
    expect(got.holders).toContain(holder.node.peerId.toString())
  })

  it('never replaces an honest record with an older, foreign, forged or mis-attributed one (record guard)', async () => {
    const kad = kadInternals(mallory.node.services.dht)
    const owned = `/webkad/${reader.node.peerId.toString()}/hostile-guard`
    const open = '/webkad/hostile-guard-open'
    const put = async (key: string, text: string): Promise<void> => {
      await operations(reader).put(key, { type: 'text', text }, { signal: signal() })
    }
    await put(owned, 'v1')
    await put(open, 'v1')
    // Mallory is a holder too: she keeps the first versions to replay them later.
    const ownedV1 = (await mallory.storedValue(fromString(owned)))!
    const openV1 = (await mallory.storedValue(fromString(open)))!
    expect(ownedV1).toBeDefined()
    await put(owned, 'v2')
    await put(open, 'v2')
    const ownedV2 = (await holder.storedValue(fromString(owned)))!
    const openV2 = (await holder.storedValue(fromString(open)))!
    expect((await validateRecord(fromString(owned), ownedV2)).sequence).toBe(2n)

    const v2 = SignedRecord.decode(ownedV2)
    const bumped = SignedRecord.encode({ ...v2, sequence: v2.sequence + 1n })
    // The same record, its author written as another encoding of the same public key (an
    // unknown field appended to the key's protobuf): the signature still verifies, but the
    // author would read as a different peer ID.
    const aliasOf = (value: Uint8Array): Uint8Array => {
      const record = SignedRecord.decode(value)
      const publicKey = concat([record.author.subarray(2), Uint8Array.of(0x18, 0x01)])
      return SignedRecord.encode({ ...record, author: concat([Uint8Array.of(0x00, publicKey.length), publicKey]) as Uint8Array<ArrayBuffer> })
    }
    const openNow = SignedRecord.decode(openV2)
    const attempts: Array<{ name: string, key: string, value: Uint8Array }> = [
      { name: 'replay of the older version', key: owned, value: ownedV1 },
      { name: 'replay of the older open record', key: open, value: openV1 },
      { name: 'mallory\'s record on the owner\'s key', key: owned, value: await forge(mallory.privateKey, { key: owned, sequence: 1000n }) },
      { name: 'sequence bumped without signing', key: owned, value: bumped },
      { name: 'author alias on an owned key', key: owned, value: aliasOf(ownedV2) },
      { name: 'author alias on an open key', key: open, value: aliasOf(openV2) },
      { name: 'lower sequence on an open key', key: open, value: await forge(mallory.privateKey, { key: open, sequence: openNow.sequence - 1n }) },
      { name: 'same sequence, older, on an open key', key: open, value: await forge(mallory.privateKey, { key: open, sequence: openNow.sequence, createdAt: openNow.createdAt - 1000n }) }
    ]
    for (const attempt of attempts) {
      await kad.putValueTo(holder.node.peerId, fromString(attempt.key), attempt.value, { signal: signal() })
      const kept = attempt.key === owned ? ownedV2 : openV2
      expect(equals((await holder.storedValue(fromString(attempt.key)))!, kept), attempt.name).toBe(true)
    }
    const got = await operations(reader).get(owned, { signal: signal() })
    expect(got.record.payload).toEqual({ type: 'text', text: 'v2' })
    expect(got.record.author).toBe(reader.node.peerId.toString())
  })

  it('lets anyone overwrite an open (unowned) key with a higher sequence: by design, owned keys are the defence', async () => {
    const open = '/webkad/hostile-takeover'
    await operations(reader).put(open, { type: 'text', text: 'mine' }, { signal: signal() })
    const takeover = await forge(mallory.privateKey, { key: open, sequence: 2n ** 64n - 1n, payload: fromString('now mallory\'s') })
    await kadInternals(mallory.node.services.dht).putValueTo(holder.node.peerId, fromString(open), takeover, { signal: signal() })
    expect(equals((await holder.storedValue(fromString(open)))!, takeover)).toBe(true)
    // An owned key cannot be taken over that way (previous test): use /webkad/<peerId>/<name>.
  })

  it('resets only the stream that sends a length-prefix bomb or malformed protobuf; the holder still answers', async () => {
    await operations(reader).put('/webkad/hostile-after-bombs', { type: 'text', text: 'alive' }, { signal: signal() })
    const open = async (): Promise<Stream> => await mallory.node.dialProtocol(holder.node.peerId, DHT_PROTOCOL, { signal: signal() })
    const lengthPrefixed = (body: Uint8Array): Uint8Array => concat([varint(body.length), body])
    // kad-dht reads its messages without a length limit of its own: what bounds a long message is
    // the 4 MiB read buffer of @libp2p/utils, so that bomb goes on sending past 4 MiB. A length
    // varint that never ends is refused at its 10th byte (patches/@libp2p+utils*.patch); before
    // the patch it stayed open until kad-dht's 10 s message timeout, past the 5 s wait below.
    const cases: Array<{ name: string, bytes: Uint8Array, fill?: number }> = [
      { name: '4 GiB length prefix, then 5 MiB of data', bytes: Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x10), fill: 5 * 1024 * 1024 },
      { name: 'a length varint that never ends (64 bytes of 0xff, then silence)', bytes: new Uint8Array(64).fill(0xff) },
      { name: 'garbage protobuf', bytes: lengthPrefixed(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f)) },
      { name: 'wire type 7', bytes: lengthPrefixed(Uint8Array.of(0x0f, 0x01)) },
      // Field 1 (type) = 99, which MessageType has no name for: the codec cannot write it.
      { name: 'unknown message type', bytes: lengthPrefixed(concat([Uint8Array.of(0x08), varint(99), Message.encode({ key: fromString('/webkad/x') as Uint8Array<ArrayBuffer> })])) },
      { name: 'PUT_VALUE without a record', bytes: lengthPrefixed(kadMessage({ type: MessageType.PUT_VALUE, key: fromString('/webkad/x') })) },
      { name: 'PUT_VALUE whose record is not a record', bytes: lengthPrefixed(kadMessage({ type: MessageType.PUT_VALUE, key: fromString('/webkad/x'), record: Uint8Array.of(1, 2, 3) })) },
      { name: 'GET_VALUE without a key', bytes: lengthPrefixed(kadMessage({ type: MessageType.GET_VALUE })) }
    ]
    for (const attack of cases) {
      const stream = await open()
      stream.send(attack.bytes)
      if (attack.fill != null) {
        const chunk = new Uint8Array(64 * 1024)
        for (let sent = 0; sent < attack.fill && stream.status === 'open'; sent += chunk.length) {
          if (!stream.send(chunk)) await stream.onDrain({ signal: signal() }).catch(() => {})
        }
      }
      // The holder resets the stream (or, for the bomb, aborts it once its buffer overflows).
      const status = await streamEnd(stream, 5000)
      expect(status, attack.name).toBe('reset')
      expect(connected(mallory.node, holder.node.peerId), `${attack.name}: connection kept`).toBe(true)
    }
    // Mallory's own connection still carries a well-formed request on a new stream.
    const stream = await open()
    const lp = lpStream(stream)
    await lp.write(kadMessage({ type: MessageType.GET_VALUE, key: fromString('/webkad/hostile-after-bombs') }))
    const reply = Message.decode(await lp.read({ signal: signal() }))
    expect(reply.type).toBe(MessageType.GET_VALUE)
    expect(equals(reply.key!, fromString('/webkad/hostile-after-bombs'))).toBe(true)
    expect(Libp2pRecord.deserialize(reply.record!).value).toEqual(await holder.storedValue(fromString('/webkad/hostile-after-bombs')))
    await stream.close()
    // And the honest network is untouched.
    expect(holder.node.status).toBe('started')
    const got = await operations(reader).get('/webkad/hostile-after-bombs', { signal: signal() })
    expect(got.holders).toContain(holder.node.peerId.toString())
  })
})

describe('a malicious GET_VALUE responder', () => {
  let honest: TestDhtNode[]
  let liar: WebkadNode
  let reader: TestDhtNode
  const asked = '/webkad/hostile-asked'
  const other = '/webkad/hostile-other'
  let answer: (key: Uint8Array) => Uint8Array | undefined = () => undefined

  beforeAll(async () => {
    honest = await startDhtNetwork(1, 20)
    reader = honest[0]!
    // A webkad node whose handler of /webkad/kad/1.0.0 is replaced by one that lies in its
    // GET_VALUE replies (and answers every other request with no peers). Its own DHT still runs:
    // it announces the protocol, so the reader adds it to its routing table as any other node.
    liar = await startMemoryNode({ name: 'hostile-liar' })
    await liar.handle(DHT_PROTOCOL, async (stream) => {
      const lp = lpStream(stream)
      try {
        for (;;) {
          const request = Message.decode(await lp.read({ signal: signal() }))
          const record = request.type === MessageType.GET_VALUE && request.key != null ? answer(request.key) : undefined
          await lp.write(kadMessage({ type: request.type, ...(request.key != null ? { key: request.key } : {}), ...(record != null ? { record } : {}) }))
        }
      } catch {
        stream.abort(new Error('done'))
      }
    }, { force: true })
    await reader.node.dial(liar.getMultiaddrs()[0]!)
    const table = kadInternals(reader.node.services.dht).routingTable
    await vi.waitFor(() => { expect(table.size, 'the liar in the reader\'s routing table').toBe(1) }, within(10_000))
  }, 60_000)

  afterAll(async () => {
    await liar.stop()
    await stopDhtNetwork(honest)
  })

  async function kadGet (key: string): Promise<{ values: Uint8Array[], errors: string[] }> {
    const values: Uint8Array[] = []
    const errors: string[] = []
    for await (const event of reader.node.services.dht.get(fromString(key), { signal: signal() })) {
      if (event.name === 'VALUE') values.push(event.value)
      if (event.name === 'QUERY_ERROR') errors.push(event.error.message)
    }
    return { values, errors }
  }

  it('has its reply discarded when the record is for another key', async () => {
    const author = await generateKeyPair('Ed25519')
    const forOther = await createSignedRecord(author, peerIdFromPrivateKey(author), { key: other, payload: { type: 'text', text: 'not what you asked for' }, sequence: 1n })
    answer = () => new Libp2pRecord(fromString(other), forOther, new Date()).serialize()
    const result = await kadGet(asked)
    expect(result.values).toEqual([])
    expect(result.errors).toContain('invalid record received, discarded')
    // webkad's Get refuses it too (it validates what each peer answered against the key asked).
    expect(await settled(operations(reader).get(asked, { signal: signal() }))).toMatchObject({
      status: 'rejected',
      reason: { name: 'RecordNotFoundError', reason: 'no-record', message: expect.stringMatching(/failed validation/) }
    })
    expect(await reader.storedValue(fromString(asked))).toBeUndefined()
    expect(await reader.storedValue(fromString(other))).toBeUndefined()
  })

  it('has its reply discarded when the record claims the asked key but its envelope is for another', async () => {
    const author = await generateKeyPair('Ed25519')
    const forOther = await createSignedRecord(author, peerIdFromPrivateKey(author), { key: other, payload: { type: 'text', text: 'relabelled' }, sequence: 1n })
    answer = (key) => new Libp2pRecord(key, forOther, new Date()).serialize()
    const result = await kadGet(asked)
    expect(result.values).toEqual([])
    expect(result.errors).toContain('invalid record received, discarded')
    await expect(operations(reader).get(asked, { signal: signal() })).rejects.toMatchObject({ name: 'RecordNotFoundError', reason: 'no-record' })
  })

  it('has its reply discarded when the record field is not a record at all', async () => {
    answer = () => Uint8Array.of(0xff, 0xff, 0xff)
    const result = await kadGet(asked)
    expect(result.values).toEqual([])
    expect(result.errors.length).toBeGreaterThan(0)
    await expect(operations(reader).get(asked, { signal: signal() })).rejects.toMatchObject({ name: 'RecordNotFoundError' })
    expect(reader.node.status).toBe('started')
  })
})
