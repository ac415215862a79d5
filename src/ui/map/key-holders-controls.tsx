import { useEffect, useRef, useState } from 'react'
import { shortPeerId } from '../common/format.ts'
import type { CrawlResult } from '../../p2p/crawl/crawl-types.ts'
import type { HolderState, KeyHoldersResult } from '../../p2p/crawl/session-crawl.ts'
import type { WebkadSession } from '../../p2p/session.ts'

type AskState = 'idle' | 'running' | 'done' | 'failed'

const STATE_TEXT: Record<HolderState, string> = {
  holds: 'holds it',
  stale: 'stale copy',
  none: 'no record',
  invalid: 'refused',
  unreachable: 'unreachable'
}

/**
 * Choose a key: its k closest nodes of the crawl, each asked GET_VALUE, with what each holds.
 * The result goes up to the map, which rings the holders.
 */
export function KeyHoldersControls ({ session, crawl, onResult }: {
  session: WebkadSession
  crawl: CrawlResult
  onResult: (result: KeyHoldersResult | undefined) => void
}): React.JSX.Element {
  const [key, setKey] = useState('')
  const [state, setState] = useState<AskState>('idle')
  const [result, setResult] = useState<KeyHoldersResult>()
  const [error, setError] = useState<string>()
  const [progress, setProgress] = useState({ answered: 0, total: 0 })
  const controller = useRef<AbortController | undefined>(undefined)
  useEffect(() => () => { controller.current?.abort() }, [])

  async function find (): Promise<void> {
    controller.current?.abort()
    const abort = new AbortController()
    controller.current = abort
    setState('running')
    setError(undefined)
    setResult(undefined)
    setProgress({ answered: 0, total: 0 })
    onResult(undefined)
    try {
      const found = await session.keyHolders(crawl, key, { signal: abort.signal, onProgress: event => { if (!abort.signal.aborted) setProgress({ answered: event.answered, total: event.total }) } })
      if (abort.signal.aborted) return
      setResult(found)
      setState('done')
      onResult(found)
    } catch (err) {
      if (abort.signal.aborted) return
      setError(`Could not look at the key: ${(err as Error).message}`)
      setState('failed')
    }
  }

  const holding = result?.holders.filter(holder => holder.state === 'holds').length ?? 0
  return (
    <section aria-label="Key holders" className="map-holders">
      <h3>Who holds a key</h3>
      <form className="actions" onSubmit={event => { event.preventDefault(); void find() }}>
        <label>Key to look at <input aria-label="Key to look at" value={key} onChange={event => { setKey(event.target.value) }} placeholder="/webkad/greeting" spellCheck={false} /></label>
        <button type="submit" disabled={state === 'running'}>Find holders</button>
      </form>
      {error != null && <p role="alert">{error}</p>}
      {state === 'running' && <p className="hint">Asking the closest nodes: {progress.answered} of {progress.total > 0 ? progress.total : '…'} answered.</p>}
      {result != null && (
        <p className="hint">
          <code>{result.key}</code>: {holding} of the {result.k} closest nodes of the crawl hold{holding === 1 ? 's' : ''} the record
          {result.bestSequence != null ? <> (sequence {result.bestSequence})</> : <> (nobody holds one)</>}; ringed on the map, the key is the diamond.
        </p>
      )}
      {state !== 'idle' && (
        <ol aria-label="Closest nodes to the key" data-state={state} className="map-holder-list">
          {result?.holders.map(holder => (
            <li key={holder.peerId} data-testid="key-holder" data-peer={holder.peerId} data-holder-state={holder.state} {...(holder.sequence != null ? { 'data-sequence': holder.sequence } : {})}>
              <span className={`holder-badge holder-${holder.state}`}>{STATE_TEXT[holder.state]}</span>{' '}
              <code>{shortPeerId(holder.peerId)}</code>
              {holder.sequence != null && <> sequence {holder.sequence}</>}
              <span className="hint"> distance {holder.distance}</span>
              {holder.error != null && <span className="hint"> ({holder.error})</span>}
            </li>
          ))}
        </ol>
      )}
    </section>
  )
}
