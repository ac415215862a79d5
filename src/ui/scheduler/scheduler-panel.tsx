import { useState } from 'react'
import { useNow } from '../hooks/use-now.ts'
import { useStore } from '../hooks/use-store.ts'
import { formatMs } from '../common/format.ts'
import type { TaskState } from '../../p2p/scheduler/scheduler.ts'
import type { WebkadSession } from '../../p2p/session.ts'

function formatInterval (ms: number): string {
  if (ms < 60_000) return `every ${Math.round(ms / 1000)} s`
  return `every ${Math.round(ms / 60_000)} min`
}

function countdown (task: TaskState, now: number): string {
  if (task.running) return 'running…'
  if (task.nextRunAt == null) return 'stopped'
  const seconds = Math.max(0, Math.ceil((task.nextRunAt - now) / 1000))
  return seconds < 60 ? `in ${seconds} s` : `in ${Math.floor(seconds / 60)} min ${seconds % 60} s`
}

/**
 * The discovery scheduler: every periodic network task with its interval, countdown, last
 * result and duration, and a Run now button. Also the records this tab keeps alive.
 */
export function SchedulerPanel ({ session }: { session: WebkadSession }): React.JSX.Element {
  const tasks = useStore(session.tasks)
  const authored = useStore(session.authored)
  const now = useNow()
  const [runningNow, setRunningNow] = useState<ReadonlySet<string>>(new Set())

  const runNow = (id: string): void => {
    setRunningNow(current => new Set(current).add(id))
    session.runTaskNow(id).finally(() => {
      setRunningNow(current => {
        const next = new Set(current)
        next.delete(id)
        return next
      })
    }).catch(() => {})
  }

  return (
    <section className="panel wide" aria-labelledby="scheduler-title">
      <h2 id="scheduler-title">Scheduler</h2>
      {tasks.length === 0
        ? <p className="hint">The scheduler runs while the tab is connected (or is off: <code>?scheduler=off</code>).</p>
        : (
          <table aria-labelledby="scheduler-title" className="scheduler-table">
            <thead>
              <tr><th scope="col">Task</th><th scope="col">Interval</th><th scope="col">Next run</th><th scope="col">Last result</th><th scope="col">Took</th><th scope="col"><span className="visually-hidden">Actions</span></th></tr>
            </thead>
            <tbody>
              {tasks.map(task => (
                <tr key={task.id} data-testid="scheduler-task" data-task={task.id} data-runs={task.runs} data-result={task.lastResult ?? 'none'}>
                  <th scope="row" title={task.description}>{task.title}</th>
                  <td>{formatInterval(task.intervalMs)}</td>
                  <td>{countdown(task, now)}</td>
                  <td className={task.lastResult === 'error' ? 'error-text' : undefined}>
                    {task.lastSummary ?? <span className="hint">not run yet</span>}
                  </td>
                  <td>{task.lastDurationMs != null ? formatMs(task.lastDurationMs) : ''}</td>
                  <td>
                    {/* The name (“Run Random walk now”) contains the visible label, so voice control finds “Run now”. */}
                    <button type="button" onClick={() => { runNow(task.id) }} disabled={task.running || runningNow.has(task.id)}>
                      Run <span className="visually-hidden">{task.title} </span>now
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          )}

      <h3>Records this tab keeps alive</h3>
      {authored.length === 0
        ? <p className="hint">None yet: records you Put are republished at half their lifetime while this tab is open.</p>
        : (
          <ul className="authored" aria-label="Records this tab keeps alive">
            {authored.map(record => (
              <li key={record.key} data-testid="authored-record" data-key={record.key} data-sequence={record.sequence.toString()}>
                <code>{record.key}</code> · sequence {record.sequence.toString()} · expires in {Math.max(0, Math.round((record.expiresAt - now) / 1000))} s ·
                next republish in {Math.max(0, Math.round((record.nextRepublishAt - now) / 1000))} s
                {record.lastError != null && <span className="error-text"> · last attempt failed: {record.lastError}</span>}
              </li>
            ))}
          </ul>
          )}
    </section>
  )
}
