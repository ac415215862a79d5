import { delay } from '../../operation.ts'

/**
 * A token bucket per peer. `take` waits for a token instead of refusing, so a flooding peer is
 * slowed to the rate by stream backpressure while honest bursts still get through.
 */
export class PeerRateLimiter {
  private readonly ratePerSecond: number
  private readonly burst: number
  private readonly buckets = new Map<string, { tokens: number, updatedAt: number }>()

  constructor (ratePerSecond: number, burst: number) {
    this.ratePerSecond = ratePerSecond
    this.burst = burst
  }

  async take (peer: string, signal?: AbortSignal, now: () => number = Date.now): Promise<void> {
    for (;;) {
      const bucket = this.refill(peer, now())
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1
        return
      }
      await delay(Math.ceil(((1 - bucket.tokens) / this.ratePerSecond) * 1000), signal)
    }
  }

  /** Drops a peer's bucket (on disconnect) so memory stays bounded by connected peers. */
  forget (peer: string): void {
    this.buckets.delete(peer)
  }

  get size (): number {
    return this.buckets.size
  }

  private refill (peer: string, at: number): { tokens: number, updatedAt: number } {
    let bucket = this.buckets.get(peer)
    if (bucket == null) {
      bucket = { tokens: this.burst, updatedAt: at }
      this.buckets.set(peer, bucket)
      return bucket
    }
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((at - bucket.updatedAt) / 1000) * this.ratePerSecond)
    bucket.updatedAt = at
    return bucket
  }
}
