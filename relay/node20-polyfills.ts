/**
 * Node 20 polyfills for the relay. Loaded with `node --import` before any libp2p module,
 * because static imports are hoisted and several libp2p dependencies (it-queue, mortice,
 * yamux, ping, webrtc) call these at module scope or on first use.
 * Browsers and Node >= 22 have them natively; this module is a no-op there.
 */

// Promise.withResolvers: ES2024, Node 22+.
if (typeof Promise.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers<T> (): PromiseWithResolvers<T> {
      let resolve!: (value: T | PromiseLike<T>) => void
      let reject!: (reason?: unknown) => void
      const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej })
      return { promise, resolve, reject }
    }
  })
}

export {}
