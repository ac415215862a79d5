import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { OperationAbortedError } from '../../../../src/p2p/errors.ts'
import { PeerRateLimiter } from '../../../../src/p2p/services/chat/rate-limiter.ts'

const T0 = 1_000_000

/** Tracks whether a promise has settled, and when (by the fake clock). */
function watch (promise: Promise<void>): { settled: () => boolean, at: () => number | undefined, error: () => unknown } {
  let settledAt: number | undefined
  let failure: unknown
  promise.then(
    () => { settledAt = Date.now() },
    (err: unknown) => { settledAt = Date.now(); failure = err }
  )
  return { settled: () => settledAt != null, at: () => settledAt, error: () => failure }
}

/** Lets resolved promises run their callbacks without moving the fake clock. */
async function flushMicrotasks (): Promise<void> {
  await vi.advanceTimersByTimeAsync(0)
}

beforeEach(() => { vi.useFakeTimers({ now: T0 }) })
afterEach(() => { vi.useRealTimers() })

describe('PeerRateLimiter', () => {
  it('lets a burst through at once', async () => {
    const limiter = new PeerRateLimiter(2, 3)
    const takes = [watch(limiter.take('a')), watch(limiter.take('a')), watch(limiter.take('a'))]
    await flushMicrotasks()
    expect(takes.every(take => take.settled())).toBe(true)
    expect(takes.map(take => take.at())).toEqual([T0, T0, T0])
  })

  it('then waits 1/rate seconds per token', async () => {
    const limiter = new PeerRateLimiter(2, 3)
    for (let index = 0; index < 3; index++) await limiter.take('a')
    const fourth = watch(limiter.take('a'))
    await vi.advanceTimersByTimeAsync(499)
    expect(fourth.settled()).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    expect(fourth.at()).toBe(T0 + 500)
  })

  it('paces a stream of messages at the rate after the burst', async () => {
    const limiter = new PeerRateLimiter(4, 2)
    const times: number[] = []
    const sender = (async () => {
      for (let index = 0; index < 8; index++) {
        await limiter.take('flooder')
        times.push(Date.now() - T0)
      }
    })()
    await vi.advanceTimersByTimeAsync(5000)
    await sender
    expect(times).toEqual([0, 0, 250, 500, 750, 1000, 1250, 1500])
  })

  it('waits only for the missing fraction of a token', async () => {
    const limiter = new PeerRateLimiter(2, 1)
    await limiter.take('a')
    await vi.advanceTimersByTimeAsync(300)
    // 0.6 of a token has accumulated: 0.4 more takes 200 ms.
    const next = watch(limiter.take('a'))
    await vi.advanceTimersByTimeAsync(199)
    expect(next.settled()).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    expect(next.at()).toBe(T0 + 500)
  })

  it('never stores more than the burst, however long a peer was idle', async () => {
    const limiter = new PeerRateLimiter(10, 3)
    await limiter.take('a')
    await vi.advanceTimersByTimeAsync(3_600_000)
    const start = Date.now()
    const takes = Array.from({ length: 4 }, () => watch(limiter.take('a')))
    await flushMicrotasks()
    expect(takes.filter(take => take.settled())).toHaveLength(3)
    await vi.advanceTimersByTimeAsync(100)
    expect(takes[3]?.at()).toBe(start + 100)
  })

  it('keeps a separate bucket per peer', async () => {
    const limiter = new PeerRateLimiter(1, 2)
    await limiter.take('a')
    await limiter.take('a')
    const blocked = watch(limiter.take('a'))
    const other = [watch(limiter.take('b')), watch(limiter.take('b'))]
    await flushMicrotasks()
    expect(blocked.settled()).toBe(false)
    expect(other.every(take => take.settled())).toBe(true)
    await vi.advanceTimersByTimeAsync(1000)
    expect(blocked.settled()).toBe(true)
  })

  it('serves concurrent waiters for one peer one token at a time', async () => {
    const limiter = new PeerRateLimiter(2, 1)
    await limiter.take('a')
    const waiters = [watch(limiter.take('a')), watch(limiter.take('a')), watch(limiter.take('a'))]
    await vi.advanceTimersByTimeAsync(2000)
    expect(waiters.map(waiter => (waiter.at() ?? 0) - T0).sort((x, y) => x - y)).toEqual([500, 1000, 1500])
  })

  describe('with an injected clock', () => {
    it('refills from the injected time, not from timers', async () => {
      let clock = 0
      const now = (): number => clock
      const limiter = new PeerRateLimiter(2, 2, now)
      await limiter.take('a')
      await limiter.take('a')
      // The injected clock has not moved: no amount of real waiting refills the bucket.
      const waiting = watch(limiter.take('a'))
      await vi.advanceTimersByTimeAsync(10_000)
      expect(waiting.settled()).toBe(false)
      // Once the injected clock has moved half a second, the next retry finds a token.
      clock += 500
      await vi.advanceTimersByTimeAsync(500)
      expect(waiting.settled()).toBe(true)
    })

    it('grants tokens immediately when the injected clock says enough time passed', async () => {
      let clock = 5_000
      const now = (): number => clock
      const limiter = new PeerRateLimiter(1, 2, now)
      await limiter.take('a')
      await limiter.take('a')
      clock += 2000
      const takes = [watch(limiter.take('a')), watch(limiter.take('a'))]
      await flushMicrotasks()
      expect(takes.every(take => take.settled())).toBe(true)
      expect(Date.now()).toBe(T0)
    })
  })

  describe('forget and size', () => {
    it('size counts the peers that have a bucket', async () => {
      const limiter = new PeerRateLimiter(1, 1)
      expect(limiter.size).toBe(0)
      await limiter.take('a')
      expect(limiter.size).toBe(1)
      await limiter.take('b')
      await limiter.take('c')
      expect(limiter.size).toBe(3)
    })

    it('forget drops the bucket, so a returning peer starts with a full burst', async () => {
      const limiter = new PeerRateLimiter(1, 2)
      await limiter.take('a')
      await limiter.take('a')
      await limiter.take('b')
      limiter.forget('a')
      expect(limiter.size).toBe(1)
      const takes = [watch(limiter.take('a')), watch(limiter.take('a'))]
      await flushMicrotasks()
      expect(takes.every(take => take.settled())).toBe(true)
      expect(limiter.size).toBe(2)
    })

    it('forget of an unknown peer does nothing', async () => {
      const limiter = new PeerRateLimiter(1, 1)
      await limiter.take('a')
      limiter.forget('nobody')
      expect(limiter.size).toBe(1)
    })
  })

  describe('abort', () => {
    it('rejects a waiting take with the signal\'s reason', async () => {
      const limiter = new PeerRateLimiter(1, 1)
      await limiter.take('a')
      const controller = new AbortController()
      const waiting = watch(limiter.take('a', controller.signal))
      await vi.advanceTimersByTimeAsync(300)
      expect(waiting.settled()).toBe(false)
      controller.abort(new OperationAbortedError('stream closed'))
      await flushMicrotasks()
      expect(waiting.at()).toBe(T0 + 300)
      expect((waiting.error() as Error).name).toBe('OperationAbortedError')
    })

    it('rejects with an AbortError when aborted without a reason', async () => {
      const limiter = new PeerRateLimiter(1, 1)
      await limiter.take('a')
      const controller = new AbortController()
      const waiting = watch(limiter.take('a', controller.signal))
      controller.abort()
      await flushMicrotasks()
      expect((waiting.error() as Error).name).toBe('AbortError')
    })

    it('rejects at once when the signal was already aborted and no token is left', async () => {
      const limiter = new PeerRateLimiter(1, 1)
      await limiter.take('a')
      const waiting = watch(limiter.take('a', AbortSignal.abort(new OperationAbortedError('gone'))))
      await flushMicrotasks()
      expect((waiting.error() as Error).name).toBe('OperationAbortedError')
    })

    it('does not use up a token for an aborted take', async () => {
      const limiter = new PeerRateLimiter(1, 1)
      await limiter.take('a')
      const controller = new AbortController()
      const aborted = watch(limiter.take('a', controller.signal))
      controller.abort()
      await flushMicrotasks()
      expect(aborted.error()).toBeDefined()
      const next = watch(limiter.take('a'))
      await vi.advanceTimersByTimeAsync(1000)
      expect(next.at()).toBe(T0 + 1000)
    })

    it('leaves no timer behind after an abort', async () => {
      const limiter = new PeerRateLimiter(1, 1)
      await limiter.take('a')
      const controller = new AbortController()
      const waiting = watch(limiter.take('a', controller.signal))
      expect(vi.getTimerCount()).toBe(1)
      controller.abort()
      await flushMicrotasks()
      expect(waiting.error()).toBeDefined()
      expect(vi.getTimerCount()).toBe(0)
    })
  })
})
