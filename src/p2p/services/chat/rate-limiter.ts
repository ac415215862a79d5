import { delay } from '../../operation.ts'
import { TokenBuckets } from '../../token-buckets.ts'

/**
 * A token bucket per peer. `take` waits for a token instead of refusing, so a flooding peer is
 * slowed to the rate by stream backpressure while honest bursts still get through.
 */
export class PeerRateLimiter {
  private readonly buckets: TokenBuckets

  constructor (ratePerSecond: number, burst: number, now: () => number = () => Date.now()) {
    this.buckets = new TokenBuckets(ratePerSecond, burst, { now })
  }

  async take (peer: string, signal?: AbortSignal): Promise<void> {
    for (let wait = this.buckets.tryTake(peer); wait > 0; wait = this.buckets.tryTake(peer)) {
      await delay(wait, signal)
    }
  }

  /** Drops a peer's bucket (on disconnect) so memory stays bounded by connected peers. */
  forget (peer: string): void {
    this.buckets.forget(peer)
  }

  get size (): number {
    return this.buckets.size
  }
}
