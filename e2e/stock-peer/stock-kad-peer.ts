/**
 * A stock js-libp2p Node peer for the map e2e: libraries only, none of webkad's code (no import
 * from src/ or relay/). It speaks kad-dht on webkad's protocol ID in server mode, listens on a
 * loopback WebSocket, dials the relay given as argv[2] and prints one JSON line
 * `{ "peerId", "multiaddrs" }` once it is listening. It stops on SIGTERM or when stdin closes.
 */

// Node 20 lacks Promise.withResolvers (yamux, ping and it-queue use it) and a global WebSocket
// (@libp2p/websockets dials with it): defined before any libp2p module loads, hence the dynamic
// imports below.
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

if (typeof globalThis.WebSocket === 'undefined') {
  const { WebSocket } = await import('ws')
  Object.defineProperty(globalThis, 'WebSocket', { configurable: true, writable: true, value: WebSocket })
}

const [{ createLibp2p }, { noise }, { yamux }, { webSockets }, { identify }, { ping }, { kadDHT, passthroughMapper }, { multiaddr }] = await Promise.all([
  import('libp2p'),
  import('@libp2p/noise'),
  import('@libp2p/yamux'),
  import('@libp2p/websockets'),
  import('@libp2p/identify'),
  import('@libp2p/ping'),
  import('@libp2p/kad-dht'),
  import('@multiformats/multiaddr')
])

const relayAddress = process.argv[2]
if (relayAddress == null) throw new Error('usage: stock-kad-peer.ts <relay multiaddr>')

const node = await createLibp2p({
  addresses: { listen: ['/ip4/127.0.0.1/tcp/0/ws'] },
  transports: [webSockets()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services: {
    identify: identify(),
    ping: ping(),
    // The protocol ID is the only thing that makes it a webkad peer; server mode and the
    // passthrough mapper because every address on this machine is a loopback one.
    dht: kadDHT({ protocol: '/webkad/kad/1.0.0', clientMode: false, peerInfoMapper: passthroughMapper })
  }
})
await node.dial(multiaddr(relayAddress))
process.stdout.write(`${JSON.stringify({ peerId: node.peerId.toString(), multiaddrs: node.getMultiaddrs().map(String) })}\n`)

const stopNode = (): void => { void Promise.resolve(node.stop()).finally(() => process.exit(0)) }
process.on('SIGTERM', stopNode)
process.stdin.on('end', stopNode)
process.stdin.resume()
