/** How a promise settled, in the shape of Promise.allSettled's results. */
export type Settlement<T> = { status: 'fulfilled', value: T } | { status: 'rejected', reason: unknown }

/** Not settled (yet) when it was looked at. */
export interface Pending { status: 'pending' }

/**
 * How `promise` settled, as a value: `{ status: 'fulfilled', value }` or `{ status: 'rejected',
 * reason }`; it never rejects. With `turns`, it looks only that many event-loop turns
 * (setImmediate) ahead and answers `{ status: 'pending' }` if the promise has not settled by
 * then: for "this must not have happened yet", where a promise that is wrongly settled already
 * settles at once.
 */
export async function settled<T> (promise: PromiseLike<T>): Promise<Settlement<T>>
export async function settled<T> (promise: PromiseLike<T>, options: { turns: number }): Promise<Settlement<T> | Pending>
export async function settled<T> (promise: PromiseLike<T>, options?: { turns: number }): Promise<Settlement<T> | Pending> {
  let result: Settlement<T> | undefined
  const observed = Promise.resolve(promise).then(
    (value) => { result = { status: 'fulfilled', value } },
    (reason: unknown) => { result = { status: 'rejected', reason } }
  )
  if (options == null) {
    await observed
    return result!
  }
  for (let turn = 0; turn < options.turns && result == null; turn++) await new Promise(resolve => setImmediate(resolve))
  return result ?? { status: 'pending' }
}
