/** Order statistics for benchmark samples (nearest-rank percentiles, no interpolation). */

export interface Summary {
  n: number
  min: number
  p50: number
  p90: number
  p95: number
  p99: number
  max: number
  mean: number
}

/** Nearest-rank percentile of `values` (0 < p ≤ 1); NaN for no values. */
export function percentile (values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))
  return sorted[index] as number
}

export function median (values: readonly number[]): number {
  return percentile(values, 0.5)
}

export function summarize (values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b)
  return {
    n: sorted.length,
    min: sorted[0] ?? Number.NaN,
    p50: percentile(sorted, 0.5),
    p90: percentile(sorted, 0.9),
    p95: percentile(sorted, 0.95),
    p99: percentile(sorted, 0.99),
    max: sorted.at(-1) ?? Number.NaN,
    mean: sorted.length === 0 ? Number.NaN : sorted.reduce((sum, value) => sum + value, 0) / sorted.length
  }
}

/** value / baseline, or undefined when either is missing or the baseline is 0. */
export function ratio (value: number, baseline: number): number | undefined {
  if (!Number.isFinite(value) || !Number.isFinite(baseline) || baseline === 0) return undefined
  return value / baseline
}

/** Rounds for display and JSON: 3 significant digits below 100, integers above. */
export function round (value: number): number {
  if (!Number.isFinite(value)) return value
  const magnitude = Math.abs(value)
  if (magnitude >= 100) return Math.round(value)
  if (magnitude >= 10) return Math.round(value * 10) / 10
  if (magnitude >= 1) return Math.round(value * 100) / 100
  return Math.round(value * 1000) / 1000
}
