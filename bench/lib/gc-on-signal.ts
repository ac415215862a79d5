/**
 * Loaded with `node --expose-gc --import` into a process the benchmarks only observe (the relay):
 * SIGUSR2 runs a full GC, so RSS read right after reflects live memory rather than garbage.
 */
const gc = (globalThis as { gc?: () => void }).gc
if (typeof gc === 'function') {
  process.on('SIGUSR2', () => { gc() })
}

export {}
