import { useEffect, useMemo, useState } from 'react'
import { useStore } from '../hooks/use-store.ts'
import { replayFrame } from './replay-frame.ts'
import type { ReplayFrame } from './replay-frame.ts'
import type { QueryTrace } from '../../p2p/dht/query-trace.ts'
import type { WebkadSession } from '../../p2p/session.ts'

const STEP_MS = 700

const OPERATION_TEXT: Record<QueryTrace['operation'], string> = {
  put: 'Put',
  get: 'Get',
  'find-peer': 'Find peer',
  'closest-peers': 'Closest peers',
  replicate: 'Replicate',
  provide: 'Provide',
  'find-providers': 'Find providers'
}

/** Choose a lookup from Lookups and step through it; the map draws each frame. */
export function LookupReplayControls ({ session, onFrame }: {
  session: WebkadSession
  onFrame: (replay: { trace: QueryTrace, frame: ReplayFrame } | undefined) => void
}): React.JSX.Element {
  const queries = useStore(session.queries)
  const [chosenId, setChosenId] = useState('')
  const [step, setStep] = useState(0)
  const [playing, setPlaying] = useState(false)
  const trace = queries.find(query => query.id === chosenId)
  const frame = useMemo(() => trace != null ? replayFrame(trace, step) : undefined, [trace, step])

  useEffect(() => { onFrame(trace != null && frame != null ? { trace, frame } : undefined) }, [trace, frame, onFrame])
  useEffect(() => {
    if (!playing || frame == null || frame.step >= frame.total) return
    const timer = setTimeout(() => {
      setStep(frame.step + 1)
      if (frame.step + 1 >= frame.total) setPlaying(false)
    }, STEP_MS)
    return () => { clearTimeout(timer) }
  }, [playing, frame])

  return (
    <section aria-label="Lookup replay" className="map-replay">
      <h3>Replay a lookup</h3>
      {queries.length === 0
        ? <p className="hint">No lookups yet: a Put, Get, Find peer or Closest peers from this tab can be replayed here.</p>
        : (
          <div className="actions">
            <label>Lookup to replay{' '}
              <select aria-label="Lookup to replay" value={chosenId} onChange={event => { setChosenId(event.target.value); setStep(0); setPlaying(false) }}>
                <option value="">(none)</option>
                {queries.map(query => (
                  <option key={query.id} value={query.id}>{OPERATION_TEXT[query.operation]} {query.label.length > 40 ? `${query.label.slice(0, 40)}…` : query.label} ({query.status})</option>
                ))}
              </select>
            </label>
            <button type="button" onClick={() => { setPlaying(false); setStep(Math.max(0, (frame?.step ?? 0) - 1)) }} disabled={frame == null || frame.step === 0}>Step back</button>
            <button type="button" onClick={() => { setPlaying(false); setStep(Math.min(frame?.total ?? 0, (frame?.step ?? 0) + 1)) }} disabled={frame == null || frame.step >= frame.total}>Step forward</button>
            <button type="button" onClick={() => { if (frame != null && frame.step >= frame.total) setStep(0); setPlaying(!playing) }} disabled={frame == null || frame.total === 0}>{playing ? 'Pause' : 'Play'}</button>
          </div>
          )}
      {frame != null && (
        <p role="status" aria-label="Replay step" data-step={frame.step} data-total={frame.total}>
          Step {frame.step} of {frame.total}: {frame.description}
        </p>
      )}
    </section>
  )
}
