import { createHash } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { fromString, toString } from 'uint8arrays'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  KAD_ID_BITS,
  commonPrefixLength,
  compactDistance,
  compareDistances,
  distanceLog2,
  kadIdOfKey,
  kadIdOfPeer,
  toHex,
  xorDistance
} from '../../../src/p2p/dht/kad-math.ts'
import type { PeerId } from '@libp2p/interface'

const BYTES = KAD_ID_BITS / 8

/** A 32-byte ID with the given leading bytes and zeros after. */
function id (...leading: number[]): Uint8Array {
  const out = new Uint8Array(BYTES)
  out.set(leading)
  return out
}

/** A 32-byte ID with only bit `bit` set (bit 0 is the most significant). */
function bitSet (bit: number): Uint8Array {
  const out = new Uint8Array(BYTES)
  out[bit >> 3] = 0x80 >> (bit & 7)
  return out
}

function prng (seed: number): () => number {
  let state = seed
  return () => {
    state = (state + 0x6D2B79F5) | 0
    let t = Math.imul(state ^ (state >>> 15), 1 | state)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function randomId (random: () => number): Uint8Array {
  const out = new Uint8Array(BYTES)
  for (let index = 0; index < BYTES; index++) out[index] = Math.floor(random() * 256)
  return out
}

const toBigInt = (bytes: Uint8Array): bigint => bytes.length === 0 ? 0n : BigInt(`0x${toHex(bytes)}`)

/** log2 of a big integer: its bit length plus the log2 of its top 53 bits. */
function exactLog2 (value: bigint): number {
  const bits = value.toString(2).length
  if (bits <= 53) return Math.log2(Number(value))
  return Math.log2(Number(value >> BigInt(bits - 53))) + (bits - 53)
}

const nodeSha256 = (bytes: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(bytes).digest())

describe('xorDistance', () => {
  it('XORs byte by byte', () => {
    expect(Array.from(xorDistance(Uint8Array.of(0b1100, 0xff, 0), Uint8Array.of(0b1010, 0x0f, 0)))).toEqual([0b0110, 0xf0, 0])
  })

  it('is symmetric', () => {
    const random = prng(1)
    for (let run = 0; run < 50; run++) {
      const a = randomId(random)
      const b = randomId(random)
      expect(xorDistance(a, b)).toEqual(xorDistance(b, a))
    }
  })

  it('is zero from an ID to itself, and only then', () => {
    const random = prng(2)
    const a = randomId(random)
    expect(xorDistance(a, a)).toEqual(new Uint8Array(BYTES))
    const b = new Uint8Array(a)
    b[31] = (b[31] ?? 0) ^ 1
    expect(xorDistance(a, b).some(byte => byte !== 0)).toBe(true)
  })

  it('satisfies the XOR triangle identity d(a,c) = d(a,b) ⊕ d(b,c)', () => {
    const random = prng(3)
    const [a, b, c] = [randomId(random), randomId(random), randomId(random)]
    expect(xorDistance(a, c)).toEqual(xorDistance(xorDistance(a, b), xorDistance(b, c)))
  })

  it('does not modify its inputs', () => {
    const a = id(1, 2, 3)
    const b = id(4, 5, 6)
    xorDistance(a, b)
    expect(Array.from(a.subarray(0, 3))).toEqual([1, 2, 3])
    expect(Array.from(b.subarray(0, 3))).toEqual([4, 5, 6])
  })

  it('throws a RangeError for IDs of different lengths', () => {
    expect(() => xorDistance(new Uint8Array(32), new Uint8Array(31))).toThrow(RangeError)
    expect(() => xorDistance(new Uint8Array(0), new Uint8Array(1))).toThrow(RangeError)
    let err: unknown
    try { xorDistance(new Uint8Array(2), new Uint8Array(3)) } catch (caught) { err = caught }
    expect((err as Error).name).toBe('RangeError')
  })

  it('handles empty IDs', () => {
    expect(xorDistance(new Uint8Array(0), new Uint8Array(0))).toEqual(new Uint8Array(0))
  })
})

describe('commonPrefixLength', () => {
  it('is 256 for equal IDs', () => {
    expect(commonPrefixLength(id(), id())).toBe(256)
    const random = prng(4)
    const a = randomId(random)
    expect(commonPrefixLength(a, new Uint8Array(a))).toBe(256)
  })

  it('is 0 when the first bit differs', () => {
    expect(commonPrefixLength(id(0x80), id(0x00))).toBe(0)
    expect(commonPrefixLength(id(0xff), id(0x7f))).toBe(0)
    expect(commonPrefixLength(new Uint8Array(BYTES).fill(0xff), id())).toBe(0)
  })

  it.each([
    [0x40, 0x00, 1],
    [0x20, 0x00, 2],
    [0x10, 0x00, 3],
    [0x08, 0x00, 4],
    [0x04, 0x00, 5],
    [0x02, 0x00, 6],
    [0x01, 0x00, 7],
    [0x01, 0x03, 6],
    [0xf0, 0xf8, 4]
  ])('first bytes %i vs %i → %i', (a, b, expected) => {
    expect(commonPrefixLength(id(a), id(b))).toBe(expected)
  })

  it('counts whole equal bytes before the first difference', () => {
    expect(commonPrefixLength(id(0xab, 0x80), id(0xab, 0x00))).toBe(8)
    expect(commonPrefixLength(id(0xab, 0x01), id(0xab, 0x00))).toBe(15)
    expect(commonPrefixLength(id(0, 0, 0x10), id(0, 0, 0))).toBe(19)
  })

  it('is 255 when only the last bit differs', () => {
    expect(commonPrefixLength(bitSet(255), id())).toBe(255)
  })

  it('is n for a single bit set at position n', () => {
    for (let bit = 0; bit < KAD_ID_BITS; bit++) {
      expect(commonPrefixLength(bitSet(bit), id())).toBe(bit)
    }
  })

  it('is symmetric', () => {
    const random = prng(5)
    for (let run = 0; run < 20; run++) {
      const a = randomId(random)
      const b = randomId(random)
      expect(commonPrefixLength(a, b)).toBe(commonPrefixLength(b, a))
    }
  })

  it('throws a RangeError for IDs of different lengths', () => {
    expect(() => commonPrefixLength(new Uint8Array(32), new Uint8Array(33))).toThrow(RangeError)
  })
})

describe('compareDistances', () => {
  it('is negative when the first distance is smaller, positive when larger, 0 when equal', () => {
    expect(compareDistances(id(0x01), id(0x02))).toBeLessThan(0)
    expect(compareDistances(id(0x02), id(0x01))).toBeGreaterThan(0)
    expect(compareDistances(id(0x02, 0x03), id(0x02, 0x03))).toBe(0)
  })

  it('is decided by the most significant differing byte', () => {
    expect(compareDistances(id(0x01, 0xff, 0xff), id(0x02, 0x00))).toBeLessThan(0)
    expect(compareDistances(bitSet(255), bitSet(254))).toBeLessThan(0)
    expect(compareDistances(bitSet(0), new Uint8Array(BYTES).fill(0x7f))).toBeGreaterThan(0)
  })

  it('sorts distances exactly as big-endian unsigned integers', () => {
    const random = prng(6)
    const distances = Array.from({ length: 200 }, () => {
      const value = randomId(random)
      // Vary the magnitude: zero out a random number of leading bytes.
      value.fill(0, 0, Math.floor(random() * BYTES))
      return value
    })
    const sorted = [...distances].sort(compareDistances).map(toBigInt)
    const expected = distances.map(toBigInt).sort((a, b) => a < b ? -1 : a > b ? 1 : 0)
    expect(sorted).toEqual(expected)
  })

  it('orders peers by XOR distance to a target like a Kademlia lookup', () => {
    const target = id(0b1010_0000)
    const near = id(0b1010_0001)
    const middle = id(0b1011_0000)
    const far = id(0b0010_0000)
    const order = [far, near, middle]
      .map(peer => ({ peer, distance: xorDistance(peer, target) }))
      .sort((a, b) => compareDistances(a.distance, b.distance))
      .map(entry => entry.peer)
    expect(order).toEqual([near, middle, far])
  })
})

describe('compactDistance', () => {
  it('is "0" for a zero distance', () => {
    expect(compactDistance(id())).toBe('0')
  })

  it('is 2^256 with the first three bytes when the first bit is set', () => {
    expect(compactDistance(id(0x80))).toBe('2^256 · 800000…')
    expect(compactDistance(new Uint8Array(BYTES).fill(0xff))).toBe('2^256 · ffffff…')
    expect(compactDistance(id(0x9a, 0xbc, 0xde, 0xf0))).toBe('2^256 · 9abcde…')
  })

  it('is 2^1 for a distance of one (only the last bit set)', () => {
    expect(compactDistance(bitSet(255))).toBe('2^1 · 000000…')
  })

  it('is 2^(256 - common prefix) for every single-bit distance', () => {
    for (let bit = 0; bit < KAD_ID_BITS; bit++) {
      expect(compactDistance(bitSet(bit))).toMatch(new RegExp(`^2\\^${KAD_ID_BITS - bit} · [0-9a-f]{6}…$`))
    }
    expect(compactDistance(id(0x01))).toBe('2^249 · 010000…')
    expect(compactDistance(id(0x00, 0x00, 0x00, 0xff))).toBe('2^232 · 000000…')
  })

  it('always shows the first three bytes in hex', () => {
    const random = prng(7)
    for (let run = 0; run < 20; run++) {
      const distance = randomId(random)
      if (distance.every(byte => byte === 0)) continue
      expect(compactDistance(distance).split(' · ')[1]).toBe(`${toHex(distance.subarray(0, 3))}…`)
    }
  })
})

describe('distanceLog2', () => {
  it('is 0 for a zero distance and for a distance of one', () => {
    expect(distanceLog2(id())).toBe(0)
    expect(distanceLog2(bitSet(255))).toBe(0)
  })

  it('is exact for powers of two', () => {
    for (let bit = 0; bit < KAD_ID_BITS; bit++) {
      expect(distanceLog2(bitSet(bit))).toBe(KAD_ID_BITS - 1 - bit)
    }
  })

  it('matches log2 of the big-endian integer closely', () => {
    const random = prng(8)
    for (let run = 0; run < 200; run++) {
      const distance = randomId(random)
      distance.fill(0, 0, Math.floor(random() * BYTES))
      const value = toBigInt(distance)
      if (value === 0n) continue
      expect(distanceLog2(distance)).toBeCloseTo(exactLog2(value), 9)
    }
    expect(distanceLog2(id(0, 0, 0, 0, 0, 0, 0, 3))).toBeCloseTo(exactLog2(3n << 192n), 9)
  })

  it('stays within [0, 256]', () => {
    const max = new Uint8Array(BYTES).fill(0xff)
    expect(distanceLog2(max)).toBeLessThanOrEqual(256)
    expect(distanceLog2(max)).toBeGreaterThan(255.99)
    const random = prng(9)
    for (let run = 0; run < 100; run++) {
      const value = distanceLog2(randomId(random))
      expect(value).toBeGreaterThanOrEqual(0)
      expect(value).toBeLessThanOrEqual(256)
    }
  })

  it('never decreases as the distance grows', () => {
    const random = prng(10)
    const distances = Array.from({ length: 400 }, () => {
      const value = randomId(random)
      value.fill(0, 0, Math.floor(random() * BYTES))
      return value
    })
    // Add neighbours that differ only beyond the 48 bits distanceLog2 reads.
    distances.push(id(0x01, 0, 0, 0, 0, 0, 0), id(0x01, 0, 0, 0, 0, 0, 1), bitSet(200), bitSet(199))
    const sorted = distances.sort(compareDistances)
    for (let index = 1; index < sorted.length; index++) {
      const previous = sorted[index - 1] ?? id()
      const current = sorted[index] ?? id()
      expect(distanceLog2(current)).toBeGreaterThanOrEqual(distanceLog2(previous))
    }
  })
})

describe('kadIdOfKey and kadIdOfPeer', () => {
  let peers: PeerId[]

  beforeAll(async () => {
    peers = await Promise.all([
      generateKeyPair('Ed25519').then(peerIdFromPrivateKey),
      generateKeyPair('Ed25519').then(peerIdFromPrivateKey),
      generateKeyPair('secp256k1').then(peerIdFromPrivateKey)
    ])
  })

  it('places a key at the SHA-256 of its bytes', () => {
    for (const key of ['/webkad/hello', '/webkad/héllo 😀', '']) {
      const bytes = fromString(key)
      const kadId = kadIdOfKey(bytes)
      expect(kadId).toHaveLength(32)
      expect(toHex(kadId)).toBe(createHash('sha256').update(key, 'utf8').digest('hex'))
    }
  })

  it('matches the published SHA-256 test vector', () => {
    expect(toHex(kadIdOfKey(fromString('abc')))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
  })

  it('places a peer at the SHA-256 of its multihash bytes (not of its string form)', () => {
    for (const peer of peers) {
      const kadId = kadIdOfPeer(peer)
      expect(kadId).toEqual(nodeSha256(peer.toMultihash().bytes))
      expect(kadId).not.toEqual(nodeSha256(fromString(peer.toString())))
    }
  })

  it('gives the same ID for a peer ID parsed back from its string', () => {
    for (const peer of peers) {
      expect(kadIdOfPeer(peerIdFromString(peer.toString()))).toEqual(kadIdOfPeer(peer))
    }
  })

  it('gives different peers different IDs', () => {
    const ids = peers.map(peer => toHex(kadIdOfPeer(peer)))
    expect(new Set(ids).size).toBe(peers.length)
  })
})

describe('toHex', () => {
  it('writes lower-case hex with two digits per byte', () => {
    expect(toHex(Uint8Array.of(0, 1, 0xab, 0xff))).toBe('0001abff')
    expect(toHex(new Uint8Array(0))).toBe('')
    expect(toHex(id(0x0f))).toBe(toString(id(0x0f), 'base16'))
  })
})
