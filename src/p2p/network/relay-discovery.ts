import { logger } from '@libp2p/logger'
import { RelayInternalsChangedError } from '../errors.ts'
import type { circuitRelayTransport } from '@libp2p/circuit-relay-v2'

const log = logger('webkad:relay-discovery')

type CircuitRelayTransportFactory = ReturnType<typeof circuitRelayTransport>

interface RelayDiscoveryInternals {
  startDiscovery(): void
}

/**
 * The circuit relay transport without its relay search. When a tab loses its relay, the
 * transport starts a libp2p random walk: DHT lookups for random keys back to back, with no
 * pause, until some relay is found. Every tab of a network does so at once and answers the
 * others' lookups, and six tabs on this machine then took ~2.4 cores (65 % of one with the relay
 * up), which starved the relay restarting beside them (7-24 s to listen). webkad finds its relay
 * itself: the scheduler's reservation check redials the bootnodes with backoff, and the
 * transport's HOP topology still reserves on a relay as soon as it is connected.
 */
export function withoutRelaySearch (factory: CircuitRelayTransportFactory): CircuitRelayTransportFactory {
  return (components) => {
    const transport = factory(components)
    const discovery = (transport as unknown as { discovery?: Partial<RelayDiscoveryInternals> }).discovery
    if (discovery == null || typeof discovery.startDiscovery !== 'function') {
      throw new RelayInternalsChangedError('@libp2p/circuit-relay-v2 internals changed: the transport has no discovery.startDiscovery')
    }
    discovery.startDiscovery = () => { log('not enough relays: the reservation check redials the bootnodes (no random walk)') }
    return transport
  }
}
