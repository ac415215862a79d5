import { RELAY_V2_STOP_CODEC } from '@libp2p/circuit-relay-v2'
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client'
import { KAD_RECORD_PREFIX } from '../src/p2p/dht/kad-internals.ts'
import type { LimitName } from './limits.ts'
import type { Connection } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'

/**
 * kad-dht keeps provider records at `<datastorePrefix>/provider/<cid>/<provider peer>` (its
 * providers.js), one key per record; the relay's test checks a provide shows up here.
 */
export const KAD_PROVIDER_PREFIX = '/dht/provider'

/** What the metrics read on each scrape. */
export interface RelayMetricsSource {
  connections(): Connection[]
  reservations(): number
  routingTableSize(): number
  /** The relay's own datastore (records and provider records held for others). */
  datastore: Datastore
}

/** How a connection reached the relay, from its remote address. */
export type RelayTransport = 'websocket' | 'webrtc-direct' | 'relayed' | 'other'

export function transportOf (connection: Connection): RelayTransport {
  const names = connection.remoteAddr.getComponents().map(component => component.name)
  if (names.includes('p2p-circuit')) return 'relayed'
  if (names.includes('webrtc-direct')) return 'webrtc-direct'
  // An inbound WebSocket's remote address is the socket's (ip/tcp), without /ws.
  if (names.includes('ws') || names.includes('wss') || names.includes('tcp')) return 'websocket'
  return 'other'
}

const TRANSPORTS: RelayTransport[] = ['websocket', 'webrtc-direct', 'relayed', 'other']
const LIMITS: LimitName[] = ['connections-per-ip', 'connections-per-peer', 'inbound-rate-per-peer', 'reservations-per-ip', 'circuits-per-peer', 'circuits-per-ip']

/** The relay's Prometheus metrics (GET /metrics), in a registry of their own. */
export interface RelayMetrics {
  registry: Registry
  /** Counts one refusal by `limit` (every refusal, not only the first of an offender). */
  refused(limit: LimitName): void
  /** The text exposition format and its content type. */
  scrape(): Promise<{ contentType: string, body: string }>
}

async function countKeys (datastore: Datastore, prefix: string): Promise<number> {
  let count = 0
  for await (const _ of datastore.queryKeys({ prefix })) count++
  return count
}

/**
 * Gauges read the live state when scraped (nothing to keep in sync); refusals are a counter.
 * Process metrics (RSS, event-loop lag, heap, GC) are prom-client's defaults.
 */
export function createRelayMetrics (source: RelayMetricsSource): RelayMetrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'webkad_relay_' })
  new Gauge({
    name: 'webkad_relay_connections',
    help: 'Open connections, by the transport they came over',
    labelNames: ['transport'],
    registers: [registry],
    collect () {
      const counts = new Map<RelayTransport, number>(TRANSPORTS.map(transport => [transport, 0]))
      for (const connection of source.connections()) {
        const transport = transportOf(connection)
        counts.set(transport, (counts.get(transport) ?? 0) + 1)
      }
      for (const [transport, count] of counts) this.set({ transport }, count)
    }
  })
  new Gauge({
    name: 'webkad_relay_reservations',
    help: 'Circuit relay v2 reservations held',
    registers: [registry],
    collect () { this.set(source.reservations()) }
  })
  new Gauge({
    name: 'webkad_relay_open_circuits',
    help: 'Relayed circuits open now (one STOP stream to each destination)',
    registers: [registry],
    collect () {
      let circuits = 0
      for (const connection of source.connections()) {
        for (const stream of connection.streams) {
          if (stream.protocol === RELAY_V2_STOP_CODEC && stream.direction === 'outbound') circuits++
        }
      }
      this.set(circuits)
    }
  })
  const refusals = new Counter({
    name: 'webkad_relay_refusals_total',
    help: 'Requests refused by a per-IP or per-peer limit, by limit',
    labelNames: ['limit'],
    registers: [registry]
  })
  for (const limit of LIMITS) refusals.inc({ limit }, 0)
  new Gauge({
    name: 'webkad_relay_dht_records',
    help: 'DHT records held in the datastore',
    registers: [registry],
    async collect () { this.set(await countKeys(source.datastore, KAD_RECORD_PREFIX)) }
  })
  new Gauge({
    name: 'webkad_relay_dht_provider_records',
    help: 'DHT provider records held in the datastore',
    registers: [registry],
    async collect () { this.set(await countKeys(source.datastore, KAD_PROVIDER_PREFIX)) }
  })
  new Gauge({
    name: 'webkad_relay_routing_table_peers',
    help: 'Peers in the DHT routing table',
    registers: [registry],
    collect () { this.set(source.routingTableSize()) }
  })
  return {
    registry,
    refused (limit) { refusals.inc({ limit }) },
    async scrape () {
      return { contentType: registry.contentType, body: await registry.metrics() }
    }
  }
}
