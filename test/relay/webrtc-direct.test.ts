import { createSocket } from 'node:dgram'
import { join } from 'node:path'
import { Key } from 'interface-datastore'
import { LevelDatastore } from 'datastore-level'
import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { startRelay } from '../../relay/relay-node.ts'
import { createWebkadNode } from '../../src/p2p/node.ts'
import { within } from '../helpers/wait.ts'
import { tempDirs, testRelayConfig } from './helpers.ts'
import type { RelayConfig } from '../../relay/config.ts'
import type { Relay } from '../../relay/relay-node.ts'
import type { WebkadNode } from '../../src/p2p/node.ts'

const dirs = tempDirs()
const relays: Relay[] = []
const clients: WebkadNode[] = []

afterEach(async () => {
  await Promise.all(clients.splice(0).map(async client => { await client.stop() }))
  await Promise.all(relays.splice(0).map(async relay => { await relay.stop() }))
  await dirs.cleanup()
})

async function webrtcDirectRelay (dataDir: string, port = 0): Promise<Relay> {
  const config: RelayConfig = { ...testRelayConfig(dataDir), webrtcDirectPort: port }
  const relay = await startRelay(config)
  relays.push(relay)
  return relay
}

async function stopRelay (relay: Relay): Promise<void> {
  relays.splice(relays.indexOf(relay), 1)
  await relay.stop()
}

function webrtcDirectAddress (relay: Relay): string {
  const address = relay.node.getMultiaddrs().map(String).find(ma => ma.includes('/webrtc-direct/'))
  if (address == null) throw new Error(`no WebRTC-Direct address among ${relay.node.getMultiaddrs().map(String).join(', ')}`)
  return address
}

function certhashOf (address: string): string {
  const hash = /\/certhash\/([^/]+)\//.exec(address)?.[1]
  if (hash == null) throw new Error(`no certhash in ${address}`)
  return hash
}

/** A UDP port that was free a moment ago. */
async function freeUdpPort (): Promise<number> {
  const socket = createSocket('udp4')
  await new Promise<void>(resolve => { socket.bind(0, '127.0.0.1', resolve) })
  const { port } = socket.address()
  await new Promise<void>(resolve => { socket.close(() => { resolve() }) })
  return port
}

describe('relay WebRTC-Direct listener', () => {
  it('listens on loopback UDP after the WebSocket address, and keeps its certhash across a restart on the same data dir', async () => {
    const dataDir = await dirs.make()
    const first = await webrtcDirectRelay(dataDir)
    const addresses = first.node.getMultiaddrs().map(String)
    expect(addresses[0]).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/ws\/p2p\//)
    const before = webrtcDirectAddress(first)
    expect(before).toMatch(/^\/ip4\/127\.0\.0\.1\/udp\/\d+\/webrtc-direct\/certhash\/u[\w-]+\/p2p\//)
    await stopRelay(first)

    const second = await webrtcDirectRelay(dataDir)
    expect(certhashOf(webrtcDirectAddress(second))).toBe(certhashOf(before))

    // A fresh data dir gets its own certificate: the hash comes from the stored one, not a constant.
    const other = await webrtcDirectRelay(await dirs.make())
    expect(certhashOf(webrtcDirectAddress(other))).not.toBe(certhashOf(before))
  })

  it('gives a tab that dials only its WebRTC-Direct address a reservation', async () => {
    const relay = await webrtcDirectRelay(await dirs.make())
    const address = multiaddr(webrtcDirectAddress(relay))
    const client = await createWebkadNode({ bootnodes: [address] })
    clients.push(client)
    const connection = await client.dial(address, { signal: AbortSignal.timeout(15_000) })
    expect(connection.remoteAddr.toString()).toContain('/webrtc-direct/')
    const reservations = relay.node.services.relay.reservations
    await vi.waitFor(() => { expect(reservations.has(client.peerId), 'the tab\'s reservation').toBe(true) }, within(15_000))
    await vi.waitFor(() => {
      expect(client.getMultiaddrs().map(String), 'the tab\'s relayed address').toContainEqual(expect.stringContaining(`/p2p/${relay.node.peerId.toString()}/p2p-circuit`))
    }, within(15_000))
  })

  it('a dial to a WebRTC-Direct port nothing listens on fails within its time limit instead of hanging', async () => {
    const relay = await webrtcDirectRelay(await dirs.make())
    const port = await freeUdpPort()
    const dead = multiaddr(webrtcDirectAddress(relay).replace(/\/udp\/\d+\//, `/udp/${port}/`))
    const client = await createWebkadNode({ bootnodes: [dead] })
    clients.push(client)
    const started = Date.now()
    await expect(client.dial(dead, { signal: AbortSignal.timeout(10_000) })).rejects.toThrow()
    expect(Date.now() - started).toBeLessThan(12_000)
  })

  it('refuses to start on a UDP port already in use, with an error', async () => {
    const socket = createSocket('udp4')
    await new Promise<void>(resolve => { socket.bind(0, '127.0.0.1', resolve) })
    try {
      await expect(webrtcDirectRelay(await dirs.make(), socket.address().port)).rejects.toMatchObject({
        name: 'WebRTCDirectListenError',
        message: expect.stringContaining(`UDP 127.0.0.1:${socket.address().port}`)
      })
    } finally {
      socket.close()
    }
  })

  it('an unreadable stored certificate: the relay refuses to start and says why', async () => {
    const dataDir = await dirs.make()
    await stopRelay(await webrtcDirectRelay(dataDir))
    const datastore = new LevelDatastore(join(dataDir, 'datastore'))
    await datastore.open()
    await datastore.put(new Key('/libp2p/webrtc-direct/certificate'), new TextEncoder().encode('-----BEGIN CERTIFICATE-----\nnot a certificate\n'))
    await datastore.close()
    await expect(webrtcDirectRelay(dataDir)).rejects.toMatchObject({ name: 'WebRTCDirectListenError', message: expect.stringMatching(/stored WebRTC-Direct certificate .* is unreadable/) })
  })
})
