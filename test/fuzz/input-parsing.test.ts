import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import fc from 'fast-check'
import { base36 } from 'multiformats/bases/base36'
import { fromString } from 'uint8arrays'
import { beforeAll, describe, expect, it } from 'vitest'
import { fuzzRuns } from './fuzz-runs.ts'
import { settled } from '../helpers/settled.ts'
import { MAX_NAME_BYTES, RECORD_KEY_PREFIX, parseRecordKey, validateRecord } from '../../src/p2p/dht/records.ts'
import { MAX_BOOTNODE_INPUT_CHARS, parseBootnodes, parsePeerIdInput } from '../../src/p2p/network/address-input.ts'
import { InvalidMultiaddrError, InvalidPeerIdError, InvalidRecordError, InvalidRecordKeyError, SelfPeerError } from '../../src/p2p/errors.ts'
import type { PeerId } from '@libp2p/interface'

/**
 * Property-based fuzzing of everything a user types: the bootnode field, peer IDs and record
 * keys. Only the named errors may come out, whatever the text. Seeds are fixed (FUZZ_SEED
 * overrides); fast-check prints seed and counterexample on failure.
 */
const runs = fuzzRuns(0x5eed_0003)

let self: PeerId
let other: PeerId
let secp: PeerId
let relayAddress: string
let peerTexts: string[]

beforeAll(async () => {
  self = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  other = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  secp = peerIdFromPrivateKey(await generateKeyPair('secp256k1'))
  relayAddress = `/ip4/127.0.0.1/tcp/9090/ws/p2p/${other.toString()}`
  peerTexts = [self, other, secp].flatMap(id => [id.toString(), id.toCID().toString(), id.toCID().toString(base36)])
})

/** Runs `work`; returns the error's name, or 'ok'. Anything but the allowed names fails. */
function outcome (work: () => unknown, allowed: Array<new (...args: never[]) => Error>): string {
  try {
    work()
    return 'ok'
  } catch (err) {
    if (!allowed.some(type => err instanceof type)) {
      throw new Error(`threw ${(err as Error)?.name ?? typeof err}: ${(err as Error)?.message ?? String(err)}`)
    }
    const message = (err as Error).message
    if (typeof message !== 'string' || message.length === 0 || message.length > 400) throw new Error(`unhelpful message: ${message}`)
    return (err as Error).name
  }
}

const codeUnit = fc.integer({ min: 0, max: 0xffff }).map(unit => String.fromCharCode(unit))

/** Any text: graphemes, every code point, raw UTF-16 units (lone surrogates), control characters. */
const anyText = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 80 }),
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.string({ unit: codeUnit, maxLength: 80 }),
  fc.string({ unit: 'binary-ascii', maxLength: 80 })
)

/** Multiaddr-shaped text from protocol names, values and separators, including nonsense ones. */
const protocolToken = fc.constantFrom(
  '/ip4/', '/ip6/', '/dns/', '/dns4/', '/dns6/', '/dnsaddr/', '/tcp/', '/udp/', '/ws', '/wss', '/tls', '/sni/', '/p2p/', '/ipfs/',
  '/p2p-circuit', '/webrtc', '/webrtc-direct', '/certhash/', '/quic-v1', '/webtransport', '/http', '/http-path/', '/unix/',
  '/memory/', '/ipcidr/', '/onion3/', '/garlic64/', '/ip6zone/', '/x-parity-ws/', '/', '//', '127.0.0.1', '::1', '9090', '65536',
  '-1', 'localhost', 'uEiA', ' ', ',', '\n', '\t', '%', '\u0000', '\uD800', '🐱'
)
const multiaddrish = fc.array(fc.oneof(
  { weight: 5, arbitrary: protocolToken },
  { weight: 2, arbitrary: fc.integer({ min: -1, max: 70000 }).map(String) },
  { weight: 2, arbitrary: fc.nat().map(pick => peerTexts[pick % peerTexts.length]!) },
  { weight: 1, arbitrary: anyText }
), { maxLength: 14 }).map(parts => parts.join(''))

/** Edits of a text: delete, insert, replace or duplicate a slice. */
function edited (base: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.tuple(base, fc.array(fc.tuple(fc.nat({ max: 3 }), fc.nat(), fc.nat({ max: 12 }), fc.oneof(codeUnit, protocolToken)), { minLength: 1, maxLength: 4 })).map(([text, edits]) => {
    let result = text
    for (const [kind, where, span, insert] of edits) {
      const at = result.length === 0 ? 0 : where % result.length
      if (kind === 0) result = result.slice(0, at) + result.slice(at + span)
      else if (kind === 1) result = result.slice(0, at) + insert + result.slice(at)
      else if (kind === 2) result = result.slice(0, at) + insert + result.slice(at + 1)
      else result = result.slice(0, at + span) + result.slice(at)
    }
    return result
  })
}

describe('parseBootnodes under fuzzing', () => {
  const allowed = [InvalidMultiaddrError]

  it('throws only InvalidMultiaddrError on arbitrary and multiaddr-shaped text', () => {
    const seen = new Map<string, number>()
    const text = fc.oneof(anyText, multiaddrish, edited(fc.constant(relayAddress)), edited(fc.nat().map(pick => [relayAddress, relayAddress.replace('/ws/', '/wss/'), `/dns4/relay.example.org/tcp/443/wss/p2p/${peerTexts[pick % peerTexts.length]!}`].join(pick % 2 === 0 ? ' ' : ',\n'))))
    fc.assert(fc.property(text, (input) => {
      const result = outcome(() => parseBootnodes(input), allowed)
      seen.set(result, (seen.get(result) ?? 0) + 1)
      if (result === 'ok') {
        // Whatever is accepted is a WebSocket multiaddr ending in a parseable /p2p/ peer ID.
        for (const address of parseBootnodes(input)) {
          const text = address.toString()
          expect(text).toMatch(/\/(ws|wss|tls\/ws|tls\/sni\/[^/]+\/ws)\//)
          expect(text).not.toContain('/p2p-circuit')
          const last = address.getComponents().at(-1)
          expect(last?.name).toBe('p2p')
          expect(() => peerIdFromString(last?.value ?? '')).not.toThrow()
        }
      }
    }), runs(2500))
    expect(seen.get('ok') ?? 0).toBeGreaterThan(0)
    expect(seen.get('InvalidMultiaddrError') ?? 0).toBeGreaterThan(0)
  })

  it('refuses huge text quickly with InvalidMultiaddrError', () => {
    const huge = [
      'a'.repeat(1_000_000),
      `${relayAddress} `.repeat(Math.ceil((MAX_BOOTNODE_INPUT_CHARS + 1) / (relayAddress.length + 1))),
      '/'.repeat(MAX_BOOTNODE_INPUT_CHARS),
      `/ip4/127.0.0.1/tcp/9090/ws/p2p/12D3KooW${'1'.repeat(MAX_BOOTNODE_INPUT_CHARS - 40)}`,
      '\uD800'.repeat(MAX_BOOTNODE_INPUT_CHARS + 1),
      ' ,\n'.repeat(200_000)
    ]
    for (const input of huge) {
      const started = performance.now()
      expect(outcome(() => parseBootnodes(input), allowed)).toBe('InvalidMultiaddrError')
      expect(performance.now() - started, `${input.length} characters`).toBeLessThan(1000)
    }
  })
})

describe('parsePeerIdInput under fuzzing', () => {
  const allowed = [InvalidPeerIdError, SelfPeerError]

  it('throws only InvalidPeerIdError or SelfPeerError, and only returns peer IDs that round-trip', () => {
    const seen = new Map<string, number>()
    const text = fc.oneof(anyText, edited(fc.nat().map(pick => peerTexts[pick % peerTexts.length]!)), fc.nat().map(pick => ` \n${peerTexts[pick % peerTexts.length]!}\t `))
    fc.assert(fc.property(text, fc.boolean(), (input, withSelf) => {
      const result = outcome(() => parsePeerIdInput(input, withSelf ? self : undefined), allowed)
      seen.set(result, (seen.get(result) ?? 0) + 1)
      if (result === 'SelfPeerError') expect(withSelf).toBe(true)
      if (result === 'ok') {
        const peer = parsePeerIdInput(input, withSelf ? self : undefined)
        expect(peerIdFromString(peer.toString()).equals(peer)).toBe(true)
        if (withSelf) expect(peer.equals(self)).toBe(false)
      }
    }), runs(2500))
    for (const name of ['ok', 'InvalidPeerIdError', 'SelfPeerError']) expect(seen.get(name) ?? 0, name).toBeGreaterThan(0)
  })

  it('refuses huge text quickly with InvalidPeerIdError (base58 decoding is quadratic)', () => {
    const huge = [
      `12D3KooW${'a'.repeat(100_000)}`,
      `Qm${'z'.repeat(100_000)}`,
      `bafz${'a'.repeat(100_000)}`,
      ' '.repeat(1_000_000),
      `${self.toString()}${' '.repeat(10)}${'x'.repeat(100_000)}`
    ]
    for (const input of huge) {
      const started = performance.now()
      expect(outcome(() => parsePeerIdInput(input, self), allowed)).toBe('InvalidPeerIdError')
      expect(performance.now() - started, `${input.slice(0, 10)}… (${input.length} characters)`).toBeLessThan(500)
    }
  })
})

describe('parseRecordKey under fuzzing', () => {
  const allowed = [InvalidRecordKeyError]

  it('throws only InvalidRecordKeyError, and only returns well-formed keys', () => {
    const seen = new Map<string, number>()
    const name = fc.oneof(
      anyText,
      fc.tuple(fc.nat(), anyText).map(([pick, rest]) => `${peerTexts[pick % peerTexts.length]!}/${rest}`),
      fc.tuple(fc.constantFrom('a', 'é', '€', '🐱'), fc.integer({ min: MAX_NAME_BYTES - 8, max: MAX_NAME_BYTES + 2 })).map(([char, bytes]) => char.repeat(Math.ceil(bytes / new TextEncoder().encode(char).byteLength)))
    )
    const text = fc.oneof(name, name.map(value => `${RECORD_KEY_PREFIX}${value}`), edited(name.map(value => `${RECORD_KEY_PREFIX}${value}`)))
    fc.assert(fc.property(text, (input) => {
      const result = outcome(() => parseRecordKey(input), allowed)
      seen.set(result, (seen.get(result) ?? 0) + 1)
      if (result !== 'ok') return
      const parsed = parseRecordKey(input)
      expect(parsed.key.startsWith(RECORD_KEY_PREFIX)).toBe(true)
      expect(parsed.key).toBe(`${RECORD_KEY_PREFIX}${parsed.name}`)
      const bytes = new TextEncoder().encode(parsed.name).byteLength
      expect(bytes).toBeGreaterThan(0)
      expect(bytes).toBeLessThanOrEqual(MAX_NAME_BYTES)
      // eslint-disable-next-line no-control-regex
      expect(parsed.name).not.toMatch(/[\u0000-\u001f\u007f-\u009f\uFFFD]/)
      expect(new TextDecoder().decode(new TextEncoder().encode(parsed.name))).toBe(parsed.name)
      if (parsed.owner != null) expect(peerIdFromString(parsed.name.slice(0, parsed.name.indexOf('/'))).equals(parsed.owner)).toBe(true)
      // Parsing is idempotent.
      expect(parseRecordKey(parsed.key)).toEqual(parsed)
    }), runs(2500))
    expect(seen.get('ok') ?? 0).toBeGreaterThan(0)
    expect(seen.get('InvalidRecordKeyError') ?? 0).toBeGreaterThan(0)
  })

  it('refuses huge keys quickly', () => {
    for (const input of ['k'.repeat(1_000_000), `${other.toString()}/${'n'.repeat(100_000)}`, '🐱'.repeat(100_000)]) {
      const started = performance.now()
      expect(outcome(() => parseRecordKey(input), allowed)).toBe('InvalidRecordKeyError')
      expect(performance.now() - started).toBeLessThan(500)
    }
  })

  it('makes validateRecord refuse arbitrary DHT keys as bad-key or key-mismatch, never anything else', async () => {
    await fc.assert(fc.asyncProperty(fc.oneof(anyText.map(value => fromString(value)), fc.uint8Array({ maxLength: 40 })), async (key) => {
      const result = await settled(validateRecord(key, Uint8Array.of(0x0a, 0x01, 0x41)))
      expect(result.status).toBe('rejected')
      const error = result.status === 'rejected' ? result.reason : undefined
      expect(error).toBeInstanceOf(InvalidRecordError)
      expect(['bad-key', 'key-mismatch']).toContain((error as InvalidRecordError).reason)
    }), runs(800))
  })
})
