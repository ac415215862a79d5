import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { fromString } from 'uint8arrays'
import { beforeAll, describe, expect, it } from 'vitest'
import { selectWebkadRecord, validateWebkadRecord } from '../../../src/p2p/dht/dht-config.ts'
import { MAX_ENCODED_RECORD_BYTES, MAX_PAYLOAD_BYTES, createSignedRecord } from '../../../src/p2p/dht/records.ts'
import type { PeerId, PrivateKey } from '@libp2p/interface'

const KEY = '/webkad/dht-config-test'
let author: PrivateKey
let authorId: PeerId

beforeAll(async () => {
  author = await generateKeyPair('Ed25519')
  authorId = peerIdFromPrivateKey(author)
})

async function record (text: string, sequence = 1n, key = KEY): Promise<Uint8Array> {
  return await createSignedRecord(author, authorId, { key, payload: { type: 'text', text }, sequence })
}

async function validationError (key: string, value: Uint8Array): Promise<Error> {
  try {
    await validateWebkadRecord(fromString(key), value)
  } catch (err) {
    return err as Error
  }
  throw new Error('expected the validator to refuse the record')
}

describe('validateWebkadRecord (the DHT validator for /webkad/)', () => {
  it('accepts a signed record for its key', async () => {
    await expect(validateWebkadRecord(fromString(KEY), await record('hello'))).resolves.toBeUndefined()
  })

  it('accepts a record with the largest allowed payload', async () => {
    await expect(validateWebkadRecord(fromString(KEY), await record('x'.repeat(MAX_PAYLOAD_BYTES)))).resolves.toBeUndefined()
  })

  it('refuses an empty value', async () => {
    const err = await validationError(KEY, new Uint8Array(0))
    expect(err.name).toBe('InvalidRecordError')
    expect(err.message).not.toBe('')
  })

  it('refuses a value over the size limit before decoding it', async () => {
    const err = await validationError(KEY, new Uint8Array(MAX_ENCODED_RECORD_BYTES + 1).fill(0x41))
    expect(err.name).toBe('InvalidRecordError')
  })

  it('refuses bytes that are no record envelope', async () => {
    expect((await validationError(KEY, fromString('just some text'))).name).toBe('InvalidRecordError')
  })

  it('refuses a valid record stored under another key', async () => {
    expect((await validationError('/webkad/another-key', await record('hello'))).name).toBe('InvalidRecordError')
  })

  it('refuses a record whose bytes were altered after signing', async () => {
    const value = await record('hello')
    const tampered = value.slice()
    const at = tampered.lastIndexOf(fromString('hello')[0]!)
    tampered[at] = fromString('j')[0]!
    expect((await validationError(KEY, tampered)).name).toBe('InvalidRecordError')
  })
})

describe('selectWebkadRecord', () => {
  it('picks the record with the highest sequence number', async () => {
    const older = await record('first', 1n)
    const newer = await record('second', 2n)
    const key = fromString(KEY)
    expect(selectWebkadRecord(key, [older, newer])).toBe(1)
    expect(selectWebkadRecord(key, [newer, older])).toBe(0)
  })

  it('never picks an undecodable record over a valid one', async () => {
    expect(selectWebkadRecord(fromString(KEY), [fromString('junk'), await record('ok')])).toBe(1)
  })
})
