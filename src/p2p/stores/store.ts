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

/** A store whose snapshot `build` makes anew, at most once per `delayMs` however often it is invalidated. */
export interface CoalescedStore<T> extends ReadableStore<T> {
  /** Something changed: rebuild within `delayMs`. */
  invalidate(): void
  /** Rebuild now (e.g. when an operation ends and the UI should show it at once). */
  flush(): void
  /** Cancels a pending rebuild. */
  stop(): void
}

/**
 * Events arrive in bursts (a lookup's replies, a thousand chat messages, routing-table pings):
 * rebuilding and rendering once per burst instead of once per event keeps the page responsive.
 */
export function createCoalescedStore<T> (build: () => T, delayMs = 50): CoalescedStore<T> {
  const store = createStore(build())
  let timer: ReturnType<typeof setTimeout> | undefined
  const stop = (): void => {
    if (timer != null) clearTimeout(timer)
    timer = undefined
  }
  const flush = (): void => {
    stop()
    store.set(build())
  }
  return {
    getSnapshot: store.getSnapshot,
    subscribe: store.subscribe,
    invalidate: () => { timer ??= setTimeout(flush, delayMs) },
    flush,
    stop
  }
}

/** A store that shows another store's snapshots while it follows one, and `initial` otherwise. */
export interface FollowingStore<T> extends ReadableStore<T> {
  /** Mirrors `source` (no copy: its snapshots are passed through) until the returned function runs. */
  follow(source: ReadableStore<T>): () => void
}

/**
 * The session's stores outlive each node (the UI subscribes once), while what they show lives
 * in the current node's own stores: follow those instead of copying them.
 */
export function createFollowingStore<T> (initial: T): FollowingStore<T> {
  const listeners = new Set<() => void>()
  let source: ReadableStore<T> | undefined
  let unsubscribe: (() => void) | undefined
  const notify = (): void => { for (const listener of [...listeners]) listener() }
  return {
    getSnapshot: () => source?.getSnapshot() ?? initial,
    subscribe (listener) {
      listeners.add(listener)
      return () => { listeners.delete(listener) }
    },
    follow (next) {
      unsubscribe?.()
      source = next
      unsubscribe = next.subscribe(notify)
      notify()
      return () => {
        if (source !== next) return
        unsubscribe?.()
        source = undefined
        unsubscribe = undefined
        notify()
      }
    }
  }
}
