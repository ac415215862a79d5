import { OperationAbortedError, OperationTimeoutError } from './errors.ts'
import { DEFAULT_OPERATION_TIMEOUT_MS } from './constants.ts'

/** Options every async core API accepts. */
export interface OperationOptions {
  signal?: AbortSignal
  /** Overrides the operation's default deadline. */
  timeoutMs?: number
}

/**
 * Runs `work` with a signal that fires when the caller aborts or the deadline passes, and
 * turns the resulting abort into OperationAbortedError or OperationTimeoutError so callers
 * never see library-specific abort errors.
 */
export async function runOperation<T> (
  what: string,
  options: OperationOptions,
  work: (signal: AbortSignal) => Promise<T>,
  defaultTimeoutMs = DEFAULT_OPERATION_TIMEOUT_MS
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? defaultTimeoutMs
  const deadline = AbortSignal.timeout(timeoutMs)
  const signal = options.signal == null ? deadline : AbortSignal.any([options.signal, deadline])
  // Not throwIfAborted(): that would hand the caller the raw AbortError this function hides.
  if (options.signal?.aborted === true) throw new OperationAbortedError(`${what} was cancelled`)
  try {
    return await work(signal)
  } catch (err) {
    if (isAborted(options.signal)) throw new OperationAbortedError(`${what} was cancelled`)
    if (deadline.aborted) throw new OperationTimeoutError(`${what} took longer than ${(timeoutMs / 1000).toFixed(1)} s`)
    throw err
  }
}

// A function call, so TypeScript does not carry the narrowing from the check above into catch.
function isAborted (signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true
}

/** Resolves after `ms`, or rejects when the signal aborts. */
export async function delay (ms: number, signal?: AbortSignal): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    if (signal?.aborted === true) { reject(signal.reason); return }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

