import { expect } from '@playwright/test'
import type { Locator, Page } from '@playwright/test'

/** Task ids of the tab's scheduler (src/p2p/scheduler/network-tasks.ts). */
export type SchedulerTaskId =
  | 'relay-reservation'
  | 'auto-dial'
  | 'random-walk'
  | 'self-lookup'
  | 'routing-table-refresh'
  | 'republish'
  | 'replicate-records'
  | 'expire-records'

/** One task row as the Scheduler panel renders it. */
export interface RenderedTask {
  id: string
  title: string
  runs: number
  result: string
  interval: string
  nextRun: string
  lastSummary: string
}

/**
 * The Scheduler panel of one tab: the periodic tasks (interval, countdown, last result, Run
 * now) and the records this tab keeps alive.
 */
export class SchedulerPanel {
  readonly page: Page

  constructor (page: Page) {
    this.page = page
  }

  get region (): Locator { return this.page.getByRole('region', { name: 'Scheduler', exact: true }) }
  get tasks (): Locator { return this.region.getByTestId('scheduler-task') }
  get authoredRecords (): Locator { return this.region.getByTestId('authored-record') }

  task (id: SchedulerTaskId): Locator {
    return this.region.locator(`[data-testid="scheduler-task"][data-task="${id}"]`)
  }

  /** The "Run <title> now" button of a task (title as shown, e.g. "Random walk"). */
  runNowButton (title: string): Locator {
    return this.region.getByRole('button', { name: `Run ${title} now`, exact: true })
  }

  /** The kept-alive record row of a key (the full key, e.g. `/webkad/name`). */
  authoredRecord (key: string): Locator {
    return this.region.locator(`[data-testid="authored-record"][data-key="${key}"]`)
  }

  async runs (id: SchedulerTaskId): Promise<number> {
    return Number(await this.task(id).getAttribute('data-runs'))
  }

  /**
   * Clicks "Run <title> now" and waits until the task's run counter passes its value before
   * the click (a scheduled run may also land meanwhile). Returns the row's state afterwards.
   */
  async runNow (id: SchedulerTaskId, title: string, timeout = 35_000): Promise<RenderedTask> {
    const before = await this.runs(id)
    await this.runNowButton(title).click()
    await expect.poll(async () => await this.runs(id), { timeout, message: `data-runs of ${id} after Run ${title} now` }).toBeGreaterThan(before)
    await expect(this.runNowButton(title)).toBeEnabled({ timeout })
    const row = (await this.readTasks()).find(task => task.id === id)
    if (row == null) throw new Error(`no scheduler row for ${id}`)
    return row
  }

  /** Every task row: attributes and the texts of its cells. */
  async readTasks (): Promise<RenderedTask[]> {
    return await this.tasks.evaluateAll(rows => rows.map(row => {
      const cells = [...row.querySelectorAll('td')].map(cell => (cell.textContent ?? '').trim())
      return {
        id: row.getAttribute('data-task') ?? '',
        title: (row.querySelector('th')?.textContent ?? '').trim(),
        runs: Number(row.getAttribute('data-runs')),
        result: row.getAttribute('data-result') ?? '',
        interval: cells[0] ?? '',
        nextRun: cells[1] ?? '',
        lastSummary: cells[2] ?? ''
      }
    }))
  }
}
