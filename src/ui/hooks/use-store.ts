import { useSyncExternalStore } from 'react'
import type { ReadableStore } from '../../p2p/stores/store.ts'

/** Subscribes a component to a core store; re-renders only when its snapshot changes. */
export function useStore<T> (store: ReadableStore<T>): T {
  return useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot)
}
