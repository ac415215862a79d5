import { describe, expect, it } from 'vitest'
import { delay, runOperation } from '../../src/p2p/operation.ts'

/** Work that never finishes on its own and rejects with the signal's (library-style) reason. */
async function untilAborted (signal: AbortSignal): Promise<never> {
  return await new Promise<never>((_resolve, reject) => {
    signal.addEventListener('abort', () => { reject(signal.reason) }, { once: true })
  })
}

async function rejection (promise: Promise<unknown>): Promise<Error> {
  try {
    await promise
  } catch (err) {
    return err as Error
  }
  throw new Error('expected a rejection')
}

describe('runOperation', () => {
  it('returns what the work returns', async () => {
    expect(await runOperation('Sum', {}, async () => 42)).toBe(42)
  })

  it('turns a caller abort into OperationAbortedError', async () => {
    const controller = new AbortController()
    const running = runOperation('Find peer', { signal: controller.signal }, untilAborted)
    setTimeout(() => { controller.abort() }, 10)
    const err = await rejection(running)
    expect(err.name).toBe('OperationAbortedError')
    expect(err.message).not.toBe('')
  })

  it('refuses to start, with OperationAbortedError, when the caller already aborted', async () => {
    const controller = new AbortController()
    controller.abort()
    let started = false
    const err = await rejection(runOperation('Find peer', { signal: controller.signal }, async () => { started = true }))
    expect(started).toBe(false)
    expect(err.name).toBe('OperationAbortedError')
  })

  it('turns the deadline into OperationTimeoutError', async () => {
    const startedAt = performance.now()
    const err = await rejection(runOperation('Find peer', { timeoutMs: 50 }, untilAborted))
    expect(err.name).toBe('OperationTimeoutError')
    expect(err.message).not.toBe('')
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(40)
  })

  it('uses the default deadline when the caller gives none', async () => {
    const err = await rejection(runOperation('Ping', {}, untilAborted, 30))
    expect(err.name).toBe('OperationTimeoutError')
  })

  it('lets the caller\'s timeoutMs override the default deadline', async () => {
    const slow = async (): Promise<string> => { await delay(60); return 'done' }
    expect(await runOperation('Ping', { timeoutMs: 1000 }, slow, 10)).toBe('done')
  })

  it('passes other errors through unchanged', async () => {
    class LibraryError extends Error { override readonly name = 'LibraryError' }
    const original = new LibraryError('boom')
    const err = await rejection(runOperation('Find peer', { signal: new AbortController().signal, timeoutMs: 1000 }, async () => { throw original }))
    expect(err).toBe(original)
  })

  it('gives the work a signal that fires on the caller\'s abort', async () => {
    const controller = new AbortController()
    let seen: AbortSignal | undefined
    const running = runOperation('Op', { signal: controller.signal }, async (signal) => { seen = signal; return await untilAborted(signal) })
    controller.abort()
    await rejection(running)
    expect(seen?.aborted).toBe(true)
  })
})

describe('delay', () => {
  it('resolves after the time', async () => {
    const startedAt = performance.now()
    await delay(30)
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(25)
  })

  it('rejects with the signal\'s reason when aborted while waiting', async () => {
    const controller = new AbortController()
    const reason = new Error('stop')
    const waiting = delay(10_000, controller.signal)
    setTimeout(() => { controller.abort(reason) }, 10)
    const startedAt = performance.now()
    expect(await rejection(waiting)).toBe(reason)
    expect(performance.now() - startedAt).toBeLessThan(1000)
  })

  it('rejects at once for an already aborted signal', async () => {
    const controller = new AbortController()
    controller.abort(new Error('already'))
    expect((await rejection(delay(10_000, controller.signal))).message).toBe('already')
  })
})
