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

// WebSocket: a global in Node 22+, behind --experimental-websocket in Node 20. @libp2p/websockets
// dials with the global, and a relay dials other relays (--bootstrap). `ws` is the server library
// @libp2p/websockets already uses; its client is API-compatible for what libp2p needs.
if (typeof globalThis.WebSocket === 'undefined') {
  const { WebSocket } = await import('ws')
  Object.defineProperty(globalThis, 'WebSocket', { configurable: true, writable: true, value: WebSocket })
}

export {}
