/**
 * The shape every benchmark returns, so `bench/run.ts` can print and store all of them alike.
 * A row is one measured figure, optionally beside a baseline measured in the same run (or a
 * theoretical bound) and a goal.
 */
export interface BenchRow {
  /** What was measured, e.g. "hops per lookup p50 (N=1024)". */
  metric: string
  value: number | string
  /** Unit of `value` (and of `baseline` when it is a number): "ms", "MB", "hops", "%", "" … */
  unit: string
  /** The figure webkad is compared with. */
  baseline?: number | string
  /** Where the baseline comes from: "library defaults, same run", "ceil(log2 N)", … */
  baselineLabel?: string
  /** value / baseline, when both are numbers and the ratio means something. */
  ratio?: number
  /** The target, in words: "≤ 3", "≥ 0.95". */
  goal?: string
  /** Whether `value` meets `goal` (unset when there is no goal). */
  met?: boolean
  note?: string
}

export interface BenchSection {
  title: string
  rows: BenchRow[]
  /** Set-up, definitions and caveats a reader needs to interpret the rows. */
  notes: string[]
}

export interface BenchOptions {
  /** A short run (smaller sizes, fewer samples) for CI and quick checks. */
  quick: boolean
}

/** What each benchmark module exports as `run<Name>`. */
export type BenchFunction = (options: BenchOptions) => Promise<BenchSection>
