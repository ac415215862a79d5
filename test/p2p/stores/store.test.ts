import { describe, expect, it } from 'vitest'
import { createStore } from '../../../src/p2p/stores/store.ts'

describe('createStore', () => {
  it('returns the same snapshot until it changes', () => {
    const store = createStore({ count: 0 })
    const first = store.getSnapshot()
    expect(store.getSnapshot()).toBe(first)
    store.set({ count: 1 })
    const second = store.getSnapshot()
    expect(second).not.toBe(first)
    expect(second).toEqual({ count: 1 })
    expect(store.getSnapshot()).toBe(second)
    expect(first).toEqual({ count: 0 })
  })

  it('notifies every listener once per change', () => {
    const store = createStore(0)
    const seenA: number[] = []
    const seenB: number[] = []
    store.subscribe(() => { seenA.push(store.getSnapshot()) })
    store.subscribe(() => { seenB.push(store.getSnapshot()) })
    store.set(1)
    store.update(value => value + 10)
    expect(seenA).toEqual([1, 11])
    expect(seenB).toEqual([1, 11])
  })

  it('stops notifying after unsubscribe, and only that listener', () => {
    const store = createStore('a')
    let kept = 0
    let removed = 0
    store.subscribe(() => { kept++ })
    const unsubscribe = store.subscribe(() => { removed++ })
    store.set('b')
    unsubscribe()
    unsubscribe()
    store.set('c')
    expect(kept).toBe(2)
    expect(removed).toBe(1)
  })

  it('does not notify when set to the same value', () => {
    const value = { list: [1, 2] }
    const store = createStore(value)
    let calls = 0
    store.subscribe(() => { calls++ })
    store.set(value)
    store.update(current => current)
    expect(calls).toBe(0)
    expect(store.getSnapshot()).toBe(value)
    // An equal but new object is a change.
    store.set({ list: [1, 2] })
    expect(calls).toBe(1)
  })

  it('treats NaN as unchanged (Object.is)', () => {
    const store = createStore(Number.NaN)
    let calls = 0
    store.subscribe(() => { calls++ })
    store.set(Number.NaN)
    expect(calls).toBe(0)
  })

  it('lets a listener unsubscribe itself during a notification without skipping others', () => {
    const store = createStore(0)
    const order: string[] = []
    const unsubscribeFirst = store.subscribe(() => { order.push('first'); unsubscribeFirst() })
    store.subscribe(() => { order.push('second') })
    store.set(1)
    store.set(2)
    expect(order).toEqual(['first', 'second', 'second'])
  })
})
