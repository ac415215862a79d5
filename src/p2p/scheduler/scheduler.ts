import { createStore } from '../stores/store.ts'
import type { ReadableStore } from '../stores/store.ts'

/** What a task reports after a run: a one-line summary and, optionally, when to run next. */
export interface TaskOutcome {
  summary: string
  /** Overrides the task's interval for the next run (e.g. a backoff delay). */
  nextRunInMs?: number
}

export interface TaskDefinition {
  id: string
  title: string
  /** Why the task exists, shown in the scheduler panel. */
  description: string
  intervalMs: number
  /** First run this long after start. @default intervalMs */
  initialDelayMs?: number
  run(signal: AbortSignal): Promise<TaskOutcome>
  /** Longest a run may take before it is aborted. @default 30 s */
  timeoutMs?: number
}

export interface TaskState {
  id: string
  title: string
  description: string
  intervalMs: number
  running: boolean
  runs: number
  lastRunAt?: number
  lastDurationMs?: number
  lastResult?: 'ok' | 'error'
  lastSummary?: string
  nextRunAt?: number
}

/** Timers injectable so tests drive time with fake timers. */
export interface SchedulerClock {
  now(): number
  setTimeout(callback: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

const realClock: SchedulerClock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => { clearTimeout(handle as ReturnType<typeof setTimeout>) }
}

interface TaskEntry {
  definition: TaskDefinition
  state: TaskState
  timer?: unknown
  controller?: AbortController
}

/**
 * Runs the tab's periodic network tasks: each on its own interval, one run at a time per task,
 * each run cancellable and bounded by a timeout. `runNow` runs a task at once and re-arms its
 * timer. State is published as immutable snapshots for the scheduler panel.
 */
export class Scheduler {
  private readonly clock: SchedulerClock
  private readonly entries = new Map<string, TaskEntry>()
  private readonly store = createStore<readonly TaskState[]>([])
  private running = false

  constructor (clock: SchedulerClock = realClock) {
    this.clock = clock
  }

  get tasks (): ReadableStore<readonly TaskState[]> { return this.store }

  add (definition: TaskDefinition): void {
    if (this.entries.has(definition.id)) throw new Error(`task ${definition.id} already exists`)
    this.entries.set(definition.id, {
      definition,
      state: { id: definition.id, title: definition.title, description: definition.description, intervalMs: definition.intervalMs, running: false, runs: 0 }
    })
    if (this.running) this.arm(definition.id, definition.initialDelayMs ?? definition.intervalMs)
    this.publish()
  }

  start (): void {
    if (this.running) return
    this.running = true
    for (const entry of this.entries.values()) this.arm(entry.definition.id, entry.definition.initialDelayMs ?? entry.definition.intervalMs)
    this.publish()
  }

  /** Cancels timers and aborts running tasks. */
  stop (): void {
    this.running = false
    for (const entry of this.entries.values()) {
      if (entry.timer != null) this.clock.clearTimeout(entry.timer)
      entry.timer = undefined
      entry.controller?.abort()
      entry.state = { ...entry.state, nextRunAt: undefined }
    }
    this.publish()
  }

  /** Runs a task now (unless it is already running) and resolves when that run ends. */
  async runNow (id: string): Promise<TaskState | undefined> {
    const entry = this.entries.get(id)
    if (entry == null || !this.running) return entry?.state
    if (entry.state.running) return entry.state
    if (entry.timer != null) this.clock.clearTimeout(entry.timer)
    entry.timer = undefined
    await this.execute(entry)
    return entry.state
  }

  /**
   * Brings a task's next run forward so it starts within `delayMs` (never postpones it; no-op
   * while the task runs, since a run re-arms the timer when it ends).
   */
  runWithin (id: string, delayMs: number): void {
    const entry = this.entries.get(id)
    if (entry == null || !this.running || entry.state.running) return
    if (entry.state.nextRunAt != null && entry.state.nextRunAt <= this.clock.now() + delayMs) return
    this.arm(id, delayMs)
  }

  private arm (id: string, delayMs: number): void {
    const entry = this.entries.get(id)
    if (entry == null || !this.running) return
    if (entry.timer != null) this.clock.clearTimeout(entry.timer)
    const delay = Math.max(0, delayMs)
    entry.state = { ...entry.state, nextRunAt: this.clock.now() + delay }
    entry.timer = this.clock.setTimeout(() => {
      entry.timer = undefined
      void this.execute(entry)
    }, delay)
    this.publish()
  }

  private async execute (entry: TaskEntry): Promise<void> {
    const controller = new AbortController()
    entry.controller = controller
    const startedAt = this.clock.now()
    entry.state = { ...entry.state, running: true, nextRunAt: undefined }
    this.publish()
    const timeoutMs = entry.definition.timeoutMs ?? 30_000
    const timeout = this.clock.setTimeout(() => { controller.abort(new Error(`timed out after ${timeoutMs} ms`)) }, timeoutMs)
    let nextRunInMs = entry.definition.intervalMs
    try {
      const outcome = await entry.definition.run(controller.signal)
      nextRunInMs = outcome.nextRunInMs ?? nextRunInMs
      entry.state = { ...entry.state, lastResult: 'ok', lastSummary: outcome.summary }
    } catch (err) {
      const reason = controller.signal.aborted && controller.signal.reason instanceof Error ? controller.signal.reason : err
      entry.state = { ...entry.state, lastResult: 'error', lastSummary: (reason as Error)?.message ?? String(reason) }
    } finally {
      this.clock.clearTimeout(timeout)
      entry.controller = undefined
      entry.state = { ...entry.state, running: false, runs: entry.state.runs + 1, lastRunAt: startedAt, lastDurationMs: this.clock.now() - startedAt }
      this.publish()
    }
    this.arm(entry.definition.id, nextRunInMs)
  }

  private publish (): void {
    this.store.set([...this.entries.values()].map(entry => entry.state))
  }
}
