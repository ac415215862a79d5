/**
 * A minimal external store for React's useSyncExternalStore: the snapshot is an immutable
 * value replaced on every change, so `getSnapshot` stays referentially stable between changes.
 */
export interface ReadableStore<T> {
  getSnapshot(): T
  subscribe(listener: () => void): () => void
}

export interface WritableStore<T> extends ReadableStore<T> {
  set(next: T): void
  update(change: (current: T) => T): void
}

export function createStore<T> (initial: T): WritableStore<T> {
  let snapshot = initial
  const listeners = new Set<() => void>()
  const set = (next: T): void => {
    if (Object.is(next, snapshot)) return
    snapshot = next
    for (const listener of [...listeners]) listener()
  }
  return {
    getSnapshot: () => snapshot,
    subscribe (listener) {
      listeners.add(listener)
      return () => { listeners.delete(listener) }
    },
    set,
    update: (change) => { set(change(snapshot)) }
  }
}
