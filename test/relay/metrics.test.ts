import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { fromString } from 'uint8arrays'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { serverPort, startRelayHttpServer } from '../../relay/http-server.ts'
import { startRelay } from '../../relay/relay-node.ts'
import { createSignedRecord } from '../../src/p2p/dht/records.ts'
import { waitForReservation } from '../../src/p2p/network/relay-connection.ts'
import { within } from '../helpers/wait.ts'
import { createTestClient, tempDirs, testRelayConfig } from './helpers.ts'
import type { Relay } from '../../relay/relay-node.ts'
import type { TestClient } from './helpers.ts'
import type { Server } from 'node:http'

const dirs = tempDirs()
const stops: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop()
  await dirs.cleanup()
})

interface Scraped {
  contentType: string
  text: string
  /** The value of one sample, e.g. value('webkad_relay_connections', { transport: 'websocket' }). */
  value(name: string, labels?: Record<string, string>): number | undefined
}

async function scrape (http: Server): Promise<Scraped> {
  const response = await fetch(`http://127.0.0.1:${serverPort(http)}/metrics`)
  expect(response.status).toBe(200)
  const text = await response.text()
  return {
    contentType: response.headers.get('content-type') ?? '',
    text,
    value (name, labels = {}) {
      const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`).join(',')
      const sample = wanted === '' ? name : `${name}{${wanted}}`
      const line = text.split('\n').find(candidate => candidate.startsWith(`${sample} `))
      return line == null ? undefined : Number(line.slice(sample.length + 1))
    }
  }
}

async function relayWithMetrics (overrides: Partial<ReturnType<typeof testRelayConfig>> = {}): Promise<{ relay: Relay, http: Server }> {
  const relay = await startRelay({ ...testRelayConfig(await dirs.make()), ...overrides })
  stops.push(async () => { await relay.stop() })
  const http = await startRelayHttpServer({
    host: '127.0.0.1',
    port: 0,
    bootstrapInfo: () => ({ peerId: relay.node.peerId.toString(), multiaddrs: [] }),
    metrics: async () => await relay.metrics.scrape()
  })
  stops.push(async () => { await new Promise(resolve => http.close(resolve)) })
  return { relay, http }
}

async function clientOf (relay: Relay): Promise<TestClient> {
  const address = relay.node.getMultiaddrs()[0]
  if (address == null) throw new Error('the relay announces no multiaddr')
  const client = await createTestClient(address)
  stops.push(async () => { await client.stop() })
  await client.dial(address)
  await waitForReservation(client, AbortSignal.timeout(10_000), new Set([relay.node.peerId.toString()]))
  return client
}

describe('GET /metrics', () => {
  it('reports connections by transport, reservations, routing table, records, circuits and the process, in Prometheus text format', async () => {
    const { relay, http } = await relayWithMetrics()
    const idle = await scrape(http)
    expect(idle.contentType).toContain('text/plain')
    expect(idle.contentType).toContain('version=0.0.4')
    expect(idle.value('webkad_relay_connections', { transport: 'websocket' })).toBe(0)
    expect(idle.value('webkad_relay_reservations')).toBe(0)
    expect(idle.value('webkad_relay_routing_table_peers')).toBe(0)
    expect(idle.value('webkad_relay_dht_records')).toBe(0)
    expect(idle.value('webkad_relay_dht_provider_records')).toBe(0)
    expect(idle.value('webkad_relay_open_circuits')).toBe(0)
    expect(idle.value('webkad_relay_process_resident_memory_bytes')).toBeGreaterThan(10 * 1024 * 1024)
    expect(idle.text).toMatch(/^webkad_relay_nodejs_eventloop_lag_seconds \d/m)
    expect(idle.text).toContain('# TYPE webkad_relay_refusals_total counter')

    const [a, b] = [await clientOf(relay), await clientOf(relay)] as [TestClient, TestClient]
    await vi.waitFor(async () => {
      const now = await scrape(http)
      expect({
        websocket: now.value('webkad_relay_connections', { transport: 'websocket' }),
        reservations: now.value('webkad_relay_reservations'),
        routingTable: now.value('webkad_relay_routing_table_peers')
      }).toEqual({ websocket: 2, reservations: 2, routingTable: 2 })
    }, within(10_000))

    // A record and a provider record, put by a tab: the relay holds one of each.
    const author = await generateKeyPair('Ed25519')
    const key = '/webkad/metrics-test'
    const record = await createSignedRecord(author, peerIdFromPrivateKey(author), { key, payload: { type: 'text', text: 'counted' }, sequence: 1n })
    for await (const _event of a.services.dht.put(fromString(key), record, { signal: AbortSignal.timeout(10_000) })) { /* drain */ }
    const cid = CID.createV1(0x55, await sha256.digest(fromString('metrics-test')))
    for await (const _event of a.services.dht.provide(cid, { signal: AbortSignal.timeout(10_000) })) { /* drain */ }
    await vi.waitFor(async () => {
      const now = await scrape(http)
      expect({ records: now.value('webkad_relay_dht_records'), providers: now.value('webkad_relay_dht_provider_records') }).toEqual({ records: 1, providers: 1 })
    }, within(10_000))

    // A relayed connection from a to b is one open circuit.
    const circuit = multiaddr(`${relay.node.getMultiaddrs()[0]!.toString()}/p2p-circuit/p2p/${b.peerId.toString()}`)
    await a.dial(circuit, { signal: AbortSignal.timeout(10_000) })
    expect((await scrape(http)).value('webkad_relay_open_circuits')).toBe(1)
  })

  it('counts every refusal by the limit that refused it', async () => {
    const { relay, http } = await relayWithMetrics({ maxConnectionsPerPeer: 1 })
    expect((await scrape(http)).value('webkad_relay_refusals_total', { limit: 'connections-per-peer' })).toBe(0)
    const client = await clientOf(relay)
    const address = relay.node.getMultiaddrs()[0]!
    for (let attempt = 0; attempt < 3; attempt++) {
      await client.dial(address, { force: true }).catch(() => {})
    }
    await vi.waitFor(async () => {
      expect((await scrape(http)).value('webkad_relay_refusals_total', { limit: 'connections-per-peer' })).toBe(3)
    }, within(10_000))
    expect((await scrape(http)).value('webkad_relay_refusals_total', { limit: 'reservations-per-ip' })).toBe(0)
  })
})
