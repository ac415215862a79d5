/**
 * Capped exponential backoff: initial, 2×, 4×, … up to `maxMs`. Deterministic (no jitter) so the
 * UI can show the next attempt and tests can assert on it.
 */
export class Backoff {
  private readonly initialMs: number
  private readonly maxMs: number
  private failures = 0

  constructor (initialMs: number, maxMs: number) {
    this.initialMs = initialMs
    this.maxMs = maxMs
  }

  /** Records a failure and returns how long to wait before the next attempt. */
  fail (): number {
    this.failures++
    return this.currentDelay()
  }

  /** The delay the next failure would return right now (0 when nothing has failed). */
  currentDelay (): number {
    if (this.failures === 0) return 0
    return Math.min(this.maxMs, this.initialMs * 2 ** (this.failures - 1))
  }

  reset (): void {
    this.failures = 0
  }

  get attempts (): number {
    return this.failures
  }
}
