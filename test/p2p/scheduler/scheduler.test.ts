import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { Backoff } from '../../../src/p2p/backoff.ts'
import { Scheduler } from '../../../src/p2p/scheduler/scheduler.ts'
import type { TaskOutcome } from '../../../src/p2p/scheduler/scheduler.ts'

const fakeClock = {
  now: () => Date.now(),
  setTimeout: (callback: () => void, ms: number) => setTimeout(callback, ms),
  clearTimeout: (handle: unknown) => { clearTimeout(handle as ReturnType<typeof setTimeout>) }
}

function stateOf (scheduler: Scheduler, id: string) {
  return scheduler.tasks.getSnapshot().find(task => task.id === id)
}

describe('Scheduler', () => {
  beforeEach(() => { vi.useFakeTimers({ now: 1_000_000 }) })
  afterEach(() => { vi.useRealTimers() })

  it('runs each task on its interval and records last run, duration and result', async () => {
    const scheduler = new Scheduler(fakeClock)
    const run = vi.fn(async (): Promise<TaskOutcome> => {
      await new Promise(resolve => setTimeout(resolve, 200))
      return { summary: 'found 3 peers' }
    })
    scheduler.add({ id: 'walk', title: 'Random walk', description: 'd', intervalMs: 10_000, initialDelayMs: 1000, run })
    scheduler.start()
    expect(stateOf(scheduler, 'walk')?.nextRunAt).toBe(1_001_000)
    await vi.advanceTimersByTimeAsync(999)
    expect(run).not.toHaveBeenCalled()
    await vi.advanceTimersByTimeAsync(1)
    expect(run).toHaveBeenCalledTimes(1)
    expect(stateOf(scheduler, 'walk')?.running).toBe(true)
    await vi.advanceTimersByTimeAsync(200)
    const state = stateOf(scheduler, 'walk')
    expect(state).toMatchObject({ running: false, runs: 1, lastResult: 'ok', lastSummary: 'found 3 peers', lastRunAt: 1_001_000, lastDurationMs: 200 })
    expect(state?.nextRunAt).toBe(1_001_200 + 10_000)
    await vi.advanceTimersByTimeAsync(10_000)
    expect(run).toHaveBeenCalledTimes(2)
    scheduler.stop()
  })

  it('records errors and keeps scheduling', async () => {
    const scheduler = new Scheduler(fakeClock)
    let calls = 0
    scheduler.add({
      id: 'flaky', title: 't', description: 'd', intervalMs: 1000, initialDelayMs: 0,
      run: async () => { calls++; if (calls === 1) throw new Error('relay down'); return { summary: 'ok again' } }
    })
    scheduler.start()
    await vi.advanceTimersByTimeAsync(0)
    expect(stateOf(scheduler, 'flaky')).toMatchObject({ lastResult: 'error', lastSummary: 'relay down' })
    await vi.advanceTimersByTimeAsync(1000)
    expect(stateOf(scheduler, 'flaky')).toMatchObject({ lastResult: 'ok', lastSummary: 'ok again', runs: 2 })
    scheduler.stop()
  })

  it('uses the delay a task asks for (backoff) for its next run', async () => {
    const scheduler = new Scheduler(fakeClock)
    const backoff = new Backoff(1000, 8000)
    const run = vi.fn(async (): Promise<TaskOutcome> => ({ summary: 'retry', nextRunInMs: backoff.fail() }))
    scheduler.add({ id: 'reserve', title: 't', description: 'd', intervalMs: 60_000, initialDelayMs: 0, run })
    scheduler.start()
    await vi.advanceTimersByTimeAsync(0)
    expect(run).toHaveBeenCalledTimes(1)
    for (const wait of [1000, 2000, 4000, 8000, 8000]) {
      await vi.advanceTimersByTimeAsync(wait - 1)
      const before = run.mock.calls.length
      await vi.advanceTimersByTimeAsync(1)
      expect(run.mock.calls.length).toBe(before + 1)
    }
    scheduler.stop()
  })

  it('runNow runs at once, re-arms the timer and never overlaps a running task', async () => {
    const scheduler = new Scheduler(fakeClock)
    let active = 0
    let maxActive = 0
    const run = vi.fn(async (): Promise<TaskOutcome> => {
      active++
      maxActive = Math.max(maxActive, active)
      await new Promise(resolve => setTimeout(resolve, 500))
      active--
      return { summary: 'done' }
    })
    scheduler.add({ id: 'refresh', title: 't', description: 'd', intervalMs: 60_000, run })
    scheduler.start()
    const first = scheduler.runNow('refresh')
    const second = scheduler.runNow('refresh')
    await vi.advanceTimersByTimeAsync(500)
    await Promise.all([first, second])
    expect(run).toHaveBeenCalledTimes(1)
    expect(maxActive).toBe(1)
    expect(stateOf(scheduler, 'refresh')?.nextRunAt).toBe(Date.now() + 60_000)
    scheduler.stop()
  })

  it('aborts a run that exceeds its timeout and one in flight on stop', async () => {
    const scheduler = new Scheduler(fakeClock)
    const seen: string[] = []
    const hang = (signal: AbortSignal): Promise<TaskOutcome> => new Promise((_resolve, reject) => {
      signal.addEventListener('abort', () => { seen.push('aborted'); reject(new Error('aborted')) })
    })
    scheduler.add({ id: 'slow', title: 't', description: 'd', intervalMs: 5000, initialDelayMs: 0, timeoutMs: 1000, run: hang })
    scheduler.start()
    await vi.advanceTimersByTimeAsync(1000)
    expect(stateOf(scheduler, 'slow')).toMatchObject({ lastResult: 'error', lastSummary: 'timed out after 1000 ms' })
    await vi.advanceTimersByTimeAsync(5000)
    expect(stateOf(scheduler, 'slow')?.running).toBe(true)
    scheduler.stop()
    await vi.advanceTimersByTimeAsync(0)
    expect(seen).toEqual(['aborted', 'aborted'])
    expect(stateOf(scheduler, 'slow')?.nextRunAt).toBeUndefined()
    await vi.advanceTimersByTimeAsync(60_000)
    expect(seen).toHaveLength(2)
  })
})

describe('Backoff', () => {
  it('doubles from the initial delay up to the cap and resets', () => {
    const backoff = new Backoff(500, 4000)
    expect(backoff.currentDelay()).toBe(0)
    expect([backoff.fail(), backoff.fail(), backoff.fail(), backoff.fail(), backoff.fail()]).toEqual([500, 1000, 2000, 4000, 4000])
    expect(backoff.attempts).toBe(5)
    backoff.reset()
    expect(backoff.fail()).toBe(500)
  })
})
