import { describe, expect, it } from 'vitest'
import { TokenBuckets } from '../../src/p2p/token-buckets.ts'

describe('TokenBuckets', () => {
  it('allows bursts up to the burst size, then refills evenly', () => {
    let now = 0
    const rate = new TokenBuckets(6 / 60, 6, { maxKeys: 100, now: () => now })
    const take = (key: string): boolean => rate.tryTake(key) === 0
    for (let index = 0; index < 6; index++) expect(take('a')).toBe(true)
    expect(rate.tryTake('a')).toBe(10_000) // 6 per minute: the next token in 10 s
    // Another key has its own bucket.
    expect(take('b')).toBe(true)
    now += 9_999
    expect(rate.tryTake('a')).toBe(1)
    now += 1
    expect(take('a')).toBe(true)
    expect(take('a')).toBe(false)
    // Refused attempts do not dig a deeper hole: one more token 10 s later.
    now += 10_000
    expect(take('a')).toBe(true)
    // An idle while refills the bucket, never beyond the burst.
    now += 10 * 60_000
    for (let index = 0; index < 6; index++) expect(take('a')).toBe(true)
    expect(take('a')).toBe(false)
  })

  it('keeps at most maxKeys buckets, forgetting the least recently used', () => {
    const rate = new TokenBuckets(1, 1, { maxKeys: 3, now: () => 0 })
    const take = (key: string): boolean => rate.tryTake(key) === 0
    for (const key of ['a', 'b', 'c']) expect(take(key)).toBe(true)
    expect(take('a')).toBe(false) // touched: now the most recent
    expect(take('d')).toBe(true) // forgets b
    expect(rate.size).toBe(3)
    expect(take('a')).toBe(false)
    expect(take('b')).toBe(true) // b was forgotten, so it starts full
    for (let index = 0; index < 1000; index++) rate.tryTake(`flood-${index}`)
    expect(rate.size).toBe(3)
  })

  it('forgets a key on request', () => {
    const rate = new TokenBuckets(1, 1, { now: () => 0 })
    expect(rate.tryTake('a')).toBe(0)
    expect(rate.tryTake('a')).toBeGreaterThan(0)
    rate.forget('a')
    expect(rate.size).toBe(0)
    expect(rate.tryTake('a')).toBe(0)
  })
})
