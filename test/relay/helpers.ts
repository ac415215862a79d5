import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RELAY_DEFAULTS } from '../../relay/config.ts'
import { createWebkadNode } from '../../src/p2p/node.ts'
import type { RelayConfig } from '../../relay/config.ts'
import type { WebkadNode } from '../../src/p2p/node.ts'
import type { Multiaddr } from '@multiformats/multiaddr'

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

/**
 * A relay configuration on free ports (0) with its data in `dataDir`; no WebRTC-Direct listener
 * (tests that want one set `webrtcDirectPort: 0`).
 */
export function testRelayConfig (dataDir: string): RelayConfig {
  const { webrtcDirectPort: _noWebrtcDirect, ...defaults } = RELAY_DEFAULTS
  return { ...defaults, wsPort: 0, httpPort: 0, dataDir, bootstrap: [] }
}

export type TestClient = WebkadNode

/**
 * A Node stand-in for a browser tab: createWebkadNode as a tab calls it, with `relay` as its
 * bootnode (a loopback relay, so webkad's gater allows local dials), minus WebRTC. It holds a
 * reservation on the relay once it is dialled there.
 */
export async function createTestClient (relay: Multiaddr): Promise<TestClient> {
  return await createWebkadNode({ webrtc: false, bootnodes: [relay] })
}
