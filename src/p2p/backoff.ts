/** The wait before retry number `attempt` (1, 2, …): initial, 2×, 4×, … capped at `maxMs`. */
export function backoffDelay (attempt: number, initialMs: number, maxMs: number): number {
  if (attempt <= 0) return 0
  return Math.min(maxMs, initialMs * 2 ** (attempt - 1))
}

/**
 * Capped exponential backoff that counts its own failures. Deterministic (no jitter) so the
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
    return backoffDelay(this.failures, this.initialMs, this.maxMs)
  }

  reset (): void {
    this.failures = 0
  }

  get attempts (): number {
    return this.failures
  }
}
