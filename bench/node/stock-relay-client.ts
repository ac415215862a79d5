/**
 * The relay-capacity bench's load: a lean relay client built on libp2p defaults, with only what a
 * tab needs to be reachable through the relay — WebSockets, noise, yamux, identify, identifyPush,
 * ping and the circuit relay transport listening on `<relay>/p2p-circuit` — and nothing else (no
 * WebRTC, no DHT, no chat, no connection monitor).
 *
 * Not createWebkadNode on purpose: that is a whole tab (its DHT in server mode, chat, and with
 * its monitor on a ping to every connection every 3 s). The bench measures what a reservation
 * costs the relay, against a baseline of the relay's library-default limits. With webkad nodes
 * as clients each would also run its join lookup and table refresh against the relay, enter
 * the relay's routing table (after the relay pings it), learn the other clients' circuit
 * addresses from it and dial them through the relay — relayed connections that count against
 * the same relay limits — and 500 of them per worker would add their DHT work to the machine's
 * 2 cores. The ramp would then measure DHT traffic through the relay and the workers' CPU as
 * much as reservations. Its notes say what a real tab adds and that it is not simulated.
 */
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify, identifyPush } from '@libp2p/identify'
import { noise } from '@libp2p/noise'
import { ping } from '@libp2p/ping'
import { webSockets } from '@libp2p/websockets'
import { yamux } from '@libp2p/yamux'
import { createLibp2p } from 'libp2p'
import type { Libp2p } from '@libp2p/interface'

/** An unstarted client whose start() resolves once the relay at `relay` granted a reservation. */
export async function createStockRelayClient (relay: string): Promise<Libp2p> {
  return await createLibp2p({
    start: false,
    addresses: { listen: [`${relay}/p2p-circuit`] },
    transports: [webSockets(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // Node's default gater already allows loopback; say so explicitly as the tab config does.
    connectionGater: { denyDialMultiaddr: () => false },
    connectionMonitor: { enabled: false },
    services: {
      identify: identify(),
      identifyPush: identifyPush(),
      ping: ping()
    }
  })
}
