import { monitorEventLoopDelay } from 'node:perf_hooks'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { round } from './stats.ts'

/** Event-loop delay over a phase (ms late, sampling resolution removed). */
export interface LoopDelay {
  p50: number
  p99: number
  max: number
}

const RESOLUTION_MS = 20

/**
 * Watches event-loop delay. A loop that runs late makes libp2p's wall-clock timeouts fire
 * without a real fault, so figures measured in one process must be read beside it.
 */
export function watchEventLoop (): { reset(): void, read(): LoopDelay, stop(): void } {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS })
  histogram.enable()
  const late = (ns: number): number => round(Math.max(0, ns / 1e6 - RESOLUTION_MS))
  return {
    reset () { histogram.reset() },
    read () {
      return { p50: late(histogram.percentile(50)), p99: late(histogram.percentile(99)), max: late(histogram.max) }
    },
    stop () { histogram.disable() }
  }
}

export function formatLoopDelay (delay: LoopDelay): string {
  return `p50 ${delay.p50} / p99 ${delay.p99} / max ${delay.max} ms`
}

let gcFunction: (() => void) | null | undefined

/**
 * A full GC: `globalThis.gc` under --expose-gc, otherwise V8's flag set at run time and `gc`
 * taken from a fresh context. Returns false when neither works (figures then include garbage).
 */
export async function collectGarbage (): Promise<boolean> {
  if (gcFunction === undefined) {
    gcFunction = (globalThis as { gc?: () => void }).gc ?? null
    if (gcFunction == null) {
      try {
        setFlagsFromString('--expose-gc')
        gcFunction = runInNewContext('gc') as () => void
      } catch {
        gcFunction = null
      }
    }
  }
  if (gcFunction == null) return false
  gcFunction()
  await sleep(50)
  gcFunction()
  return true
}

export function megabytes (bytes: number): number {
  return round(bytes / (1024 * 1024))
}

export function kilobytes (bytes: number): number {
  return round(bytes / 1024)
}

export async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

/** Runs `task` over `items` with at most `concurrency` at once; results keep the input order. */
export async function mapWithConcurrency<T, R> (items: readonly T[], concurrency: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length)
  let next = 0
  const workers = Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, async () => {
    while (next < items.length) {
      const index = next++
      results[index] = await task(items[index] as T, index)
    }
  })
  await Promise.all(workers)
  return results
}

/** `count` distinct items picked uniformly (partial Fisher-Yates). */
export function sample<T> (items: readonly T[], count: number): T[] {
  const copy = [...items]
  const take = Math.min(count, copy.length)
  for (let index = 0; index < take; index++) {
    const swap = index + Math.floor(Math.random() * (copy.length - index))
    const held = copy[index] as T
    copy[index] = copy[swap] as T
    copy[swap] = held
  }
  return copy.slice(0, take)
}

export function pickOne<T> (items: readonly T[]): T {
  if (items.length === 0) throw new RangeError('nothing to pick from')
  return items[Math.floor(Math.random() * items.length)] as T
}
