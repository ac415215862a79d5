import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify, identifyPush } from '@libp2p/identify'
import { noise } from '@libp2p/noise'
import { ping } from '@libp2p/ping'
import { webSockets } from '@libp2p/websockets'
import { yamux } from '@libp2p/yamux'
import { createLibp2p } from 'libp2p'
import { RELAY_DEFAULTS } from '../../relay/config.ts'
import { webkadDHT } from '../../src/p2p/dht/dht-config.ts'
import type { RelayConfig } from '../../relay/config.ts'
import type { Identify, IdentifyPush } from '@libp2p/identify'
import type { KadDHT } from '@libp2p/kad-dht'
import type { Libp2p } from '@libp2p/interface'
import type { Ping } from '@libp2p/ping'

/** Makes a fresh directory under the OS temp dir; `cleanup` removes every directory made. */
export function tempDirs (): { make(): Promise<string>, cleanup(): Promise<void> } {
  const made: string[] = []
  return {
    async make () {
      const dir = await mkdtemp(join(tmpdir(), 'webkad-test-'))
      made.push(dir)
      return dir
    },
    async cleanup () {
      await Promise.all(made.splice(0).map(async dir => { await rm(dir, { recursive: true, force: true }) }))
    }
  }
}

/** A relay configuration on free ports (0) with its data in `dataDir`. */
export function testRelayConfig (dataDir: string): RelayConfig {
  return { ...RELAY_DEFAULTS, wsPort: 0, httpPort: 0, dataDir, bootstrap: [] }
}

/** Polls `check` until it returns true; fails with `what` after `timeoutMs`. */
export async function waitFor (what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 25))
  }
}

export type TestClient = Libp2p<{ identify: Identify, identifyPush: IdentifyPush, ping: Ping, dht: KadDHT }>

/**
 * A Node stand-in for a browser tab: the tab's transports and services minus WebRTC, with a
 * gater that allows the loopback relay.
 */
export async function createTestClient (): Promise<TestClient> {
  return await createLibp2p({
    addresses: { listen: ['/p2p-circuit'] },
    transports: [webSockets(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: () => false },
    services: {
      identify: identify(),
      identifyPush: identifyPush(),
      ping: ping(),
      dht: webkadDHT()
    }
  })
}
