import type fc from 'fast-check'

/**
 * fast-check parameters for one fuzz file: a fixed seed (FUZZ_SEED overrides, so a failure
 * replays) and run counts multiplied by FUZZ_RUNS for a longer local session.
 */
export function fuzzRuns (defaultSeed: number): (count: number) => fc.Parameters<unknown> {
  const seed = Number(process.env.FUZZ_SEED ?? defaultSeed)
  const scale = Number(process.env.FUZZ_RUNS ?? 1)
  return (count) => ({ seed, numRuns: Math.max(1, Math.round(count * scale)) })
}
