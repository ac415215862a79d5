/**
 * A token bucket per key: `ratePerSecond` tokens refilled evenly, at most `burst` held. At most
 * `maxKeys` buckets are kept, the least recently used forgotten first (a forgotten key starts
 * again with a full bucket, which is what an idle key has anyway). Used by the chat service
 * (which waits for a token) and the relay's connection-rate limit (which refuses without one).
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number, at: number }>()
  private readonly ratePerSecond: number
  private readonly burst: number
  private readonly maxKeys: number
  private readonly now: () => number

  constructor (ratePerSecond: number, burst: number, options: { maxKeys?: number, now?: () => number } = {}) {
    this.ratePerSecond = ratePerSecond
    this.burst = burst
    this.maxKeys = options.maxKeys ?? Number.POSITIVE_INFINITY
    this.now = options.now ?? (() => Date.now())
  }

  /**
   * Takes a token for `key` and answers 0, or, when its bucket is empty, takes nothing and
   * answers how many ms until a token is there.
   */
  tryTake (key: string): number {
    const now = this.now()
    const bucket = this.buckets.get(key)
    const tokens = bucket == null ? this.burst : Math.min(this.burst, bucket.tokens + (now - bucket.at) * this.ratePerSecond / 1000)
    const taken = tokens >= 1
    // Re-inserted so the map's order is least recently used first.
    this.buckets.delete(key)
    this.buckets.set(key, { tokens: taken ? tokens - 1 : tokens, at: now })
    for (const oldest of this.buckets.keys()) {
      if (this.buckets.size <= this.maxKeys) break
      this.buckets.delete(oldest)
    }
    return taken ? 0 : Math.ceil((1 - tokens) / this.ratePerSecond * 1000)
  }

  /** Drops a key's bucket (e.g. on disconnect). */
  forget (key: string): void {
    this.buckets.delete(key)
  }

  get size (): number {
    return this.buckets.size
  }
}
