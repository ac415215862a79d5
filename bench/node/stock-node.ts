/**
 * The library-settings baseline of the simulated network: a libp2p node with libp2p's and
 * @libp2p/kad-dht's defaults, plus only what a simulated webkad network needs to work at all.
 * webkad's own nodes come from createWebkadNode (src/p2p/node.ts); this file is the one place
 * the simulation builds anything else.
 */
import { identify } from '@libp2p/identify'
import { memory } from '@libp2p/memory'
import { ping } from '@libp2p/ping'
import { yamux } from '@libp2p/yamux'
import { createLibp2p } from 'libp2p'
import { webkadDHT } from '../../src/p2p/dht/dht-config.ts'
import type { Identify } from '@libp2p/identify'
import type { KadDHT } from '@libp2p/kad-dht'
import type { Libp2p, PrivateKey } from '@libp2p/interface'
import type { Libp2pOptions } from 'libp2p'
import type { Ping } from '@libp2p/ping'

export type StockServices = { identify: Identify, ping: Ping, dht: KadDHT }
export type StockNode = Libp2p<StockServices>

/**
 * What the defaults are (libp2p 3.x and @libp2p/kad-dht 16.4.5 constants in Node), for the
 * bench's labels and notes. createStockNode does not pass them: it leaves them to the libraries.
 */
export const LIBRARY_DEFAULTS = {
  alpha: 10,
  /** kad-dht uses as many disjoint paths as alpha. */
  disjointPaths: 10,
  prefixLength: 6,
  kBucketSize: 20,
  /** Node's connection-manager default (the browser build's is 100). */
  maxConnections: 300,
  /** libp2p's connection monitor is on by default (a ping per connection every 10 s). */
  connectionMonitor: true
} as const

export interface StockNodeInit {
  privateKey: PrivateKey
  /** A memory-transport listen address, unique in the process. */
  listen: string
  /**
   * The encryption of the webkad variant it is compared with, so that the difference is the
   * DHT and connection settings alone.
   */
  connectionEncrypters: NonNullable<Libp2pOptions['connectionEncrypters']>
  /** @default false (the simulation starts each node when it joins) */
  start?: boolean
}

/**
 * A node with library defaults on the memory transport. What it needs to join a webkad network
 * and nothing more: webkadDHT() with no overrides — webkad's protocol, validator and selector
 * (without them kad-dht rejects every webkad record), server mode (left to itself kad-dht keeps
 * nodes without public addresses clients) and passthroughMapper (the default mapper drops the
 * memory transport's addresses, so no peer would enter a table) — plus identify and ping with
 * their defaults, which kad-dht declares as service dependencies (it does not start without them).
 */
export async function createStockNode (init: StockNodeInit): Promise<StockNode> {
  return await createLibp2p({
    privateKey: init.privateKey,
    start: init.start ?? false,
    addresses: { listen: [init.listen] },
    transports: [memory()],
    connectionEncrypters: init.connectionEncrypters,
    streamMuxers: [yamux()],
    services: {
      identify: identify(),
      ping: ping(),
      dht: webkadDHT()
    }
  })
}
