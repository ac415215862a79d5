/**
 * Where a page's main thread spends a benchmark: V8's sampling profiler over CDP, reduced to
 * busy / idle / GC shares (the bundle is minified, so per-function names would say little).
 */
import type { Page } from 'playwright-core'

export interface MainThreadShare {
  /** Share of wall time the main thread ran JS, GC or other renderer work (0..1). */
  busy: number
  /** Share of wall time in V8's garbage collector (0..1). */
  gc: number
}

interface ProfileNode { id: number, callFrame: { functionName: string } }
interface Profile { nodes: ProfileNode[], samples?: number[], timeDeltas?: number[] }

/** Runs `work` while sampling the main thread of every page in `pages` (1 ms interval). */
export async function profileMainThreads<T> (pages: Page[], work: () => Promise<T>): Promise<{ result: T, shares: MainThreadShare[] }> {
  const sessions = await Promise.all(pages.map(async page => await page.context().newCDPSession(page)))
  await Promise.all(sessions.map(async (session) => {
    await session.send('Profiler.enable')
    await session.send('Profiler.setSamplingInterval', { interval: 1000 })
    await session.send('Profiler.start')
  }))
  let result: T
  let shares: MainThreadShare[] = []
  try {
    result = await work()
  } finally {
    const profiles = await Promise.all(sessions.map(async session => (await session.send('Profiler.stop')).profile as Profile))
    await Promise.all(sessions.map(async session => { await session.detach().catch(() => {}) }))
    shares = profiles.map(shareOf)
  }
  return { result, shares }
}

function shareOf (profile: Profile): MainThreadShare {
  const names = new Map(profile.nodes.map(node => [node.id, node.callFrame.functionName]))
  const samples = profile.samples ?? []
  const deltas = profile.timeDeltas ?? []
  let total = 0
  let idle = 0
  let gc = 0
  samples.forEach((id, index) => {
    const weight = deltas[index + 1] ?? deltas[index] ?? 0
    total += weight
    const name = names.get(id)
    if (name === '(idle)') idle += weight
    if (name === '(garbage collector)') gc += weight
  })
  return total === 0 ? { busy: Number.NaN, gc: Number.NaN } : { busy: 1 - idle / total, gc: gc / total }
}
