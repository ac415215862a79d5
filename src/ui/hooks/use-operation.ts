import { useCallback, useEffect, useRef, useState } from 'react'

export type OperationState<T> =
  | { phase: 'idle' }
  | { phase: 'running' }
  | { phase: 'done', result: T }
  | { phase: 'failed', error: OperationError }

/** A core error as the UI shows it; `reason` is kept where the core error carries one. */
export interface OperationError {
  name: string
  message: string
  reason?: string
}

/**
 * Runs one core operation at a time for a form: keeps its state, cancels it on unmount or on
 * `cancel()`, and never lets a rejection escape (no unhandled promise rejections).
 */
export function useOperation<A extends unknown[], T> (run: (signal: AbortSignal, ...args: A) => Promise<T>): {
  state: OperationState<T>
  start: (...args: A) => void
  cancel: () => void
} {
  const [state, setState] = useState<OperationState<T>>({ phase: 'idle' })
  const controller = useRef<AbortController | null>(null)
  const runRef = useRef(run)
  useEffect(() => { runRef.current = run }, [run])
  useEffect(() => () => controller.current?.abort(), [])

  const start = useCallback((...args: A) => {
    controller.current?.abort()
    const current = new AbortController()
    controller.current = current
    setState({ phase: 'running' })
    runRef.current(current.signal, ...args).then(
      (result) => { if (controller.current === current) setState({ phase: 'done', result }) },
      (err: unknown) => {
        if (controller.current !== current) return
        setState({ phase: 'failed', error: toOperationError(err) })
      }
    )
  }, [])
  const cancel = useCallback(() => { controller.current?.abort() }, [])
  return { state, start, cancel }
}

/** A thrown core error as the UI shows it (the core's errors carry `name` and maybe `reason`). */
export function toOperationError (err: unknown): OperationError {
  const error = err instanceof Error ? err : new Error(String(err))
  const reason = (error as { reason?: unknown }).reason
  return { name: error.name, message: error.message, reason: typeof reason === 'string' ? reason : undefined }
}
