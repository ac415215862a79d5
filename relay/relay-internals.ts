import { peerIdFromString } from '@libp2p/peer-id'
import { toString } from 'uint8arrays'
import { RelayInternalsChangedError } from '../src/p2p/errors.ts'
import type { CircuitRelayService } from '@libp2p/circuit-relay-v2'
import type { AbortOptions, Connection, PeerId, Stream } from '@libp2p/interface'
import type { ProtobufStream } from '@libp2p/utils'
import type { Multiaddr } from '@multiformats/multiaddr'

/**
 * The two places inside @libp2p/circuit-relay-v2's server where a limit can answer with the
 * protocol's own status: the reservation store's `reserve` (whose refusal the library itself
 * writes as RESERVATION_REFUSED, as when it is full) and the HOP CONNECT handler. The library's
 * connection gater hooks for both only answer PERMISSION_DENIED, the ACL status, and know
 * neither the address nor the circuits. Reaching them through this one adapter keeps the
 * dependency on library internals in one place; it checks their shape at runtime, and its
 * test fails loudly when an upgrade changes them.
 */

/** Decides whether a new reservation (not a renewal: the hook sees both) is refused. */
export type ReservationGuard = (peer: PeerId, addr: Multiaddr) => boolean

/** Decides whether a HOP CONNECT from `source` (its connection to the relay) to `destination` is refused. */
export type ConnectGuard = (source: Connection, destination: PeerId) => boolean

export interface CircuitRelayServerInternals {
  /** Runs `refuse` before each reservation is stored; true answers RESERVATION_REFUSED. */
  guardReservations(refuse: ReservationGuard): void
  /** Runs `refuse` before each HOP CONNECT is served; true answers RESOURCE_LIMIT_EXCEEDED. */
  guardConnects(refuse: ConnectGuard): void
  /**
   * Awaits `hook` after a reservation is granted and before the client is told so (the
   * library's `makeReservation`); a failing hook is logged by the caller, never refuses.
   */
  beforeReservationConfirmed(hook: (peer: PeerId) => Promise<void>): void
}

// The library's protons enum values are the status names.
const RESERVATION_REFUSED = 'RESERVATION_REFUSED'
// HopMessage { type = STATUS (2), status = RESOURCE_LIMIT_EXCEEDED (201) }: fields 1 and 5, varints.
const RESOURCE_LIMIT_EXCEEDED_RESPONSE = Uint8Array.of(0x08, 0x02, 0x28, 0xc9, 0x01)

interface ReserveResult { status: string, expire?: number }
type Reserve = (peer: PeerId, addr: Multiaddr, limit?: unknown) => ReserveResult

interface HopConnect {
  connection: Connection
  request: { peer?: { id?: Uint8Array } }
  stream: ProtobufStream<Stream>
}
type HandleConnect = (hop: HopConnect, options: AbortOptions) => Promise<void>
type MakeReservation = (peer: PeerId, expire: bigint) => Promise<unknown>

/** The destination of a CONNECT, or undefined when malformed (the library then answers MALFORMED_MESSAGE). */
function destinationOf (request: HopConnect['request']): PeerId | undefined {
  const id = request.peer?.id
  if (id == null) return undefined
  try {
    // A peer ID's text form is its multihash in base58btc.
    return peerIdFromString(toString(id, 'base58btc'))
  } catch {
    return undefined
  }
}

export function circuitRelayServerInternals (service: CircuitRelayService): CircuitRelayServerInternals {
  const server = service as unknown as { reservationStore?: { reserve?: Reserve }, handleConnect?: HandleConnect, makeReservation?: MakeReservation }
  const store = server.reservationStore
  const originalConnect = server.handleConnect
  const originalMakeReservation = server.makeReservation
  if (store == null || typeof store.reserve !== 'function' || typeof originalConnect !== 'function' || typeof originalMakeReservation !== 'function') {
    throw new RelayInternalsChangedError('@libp2p/circuit-relay-v2 internals changed: reservationStore.reserve, handleConnect or makeReservation not found')
  }
  const originalReserve = store.reserve
  return {
    guardReservations (refuse) {
      store.reserve = (peer, addr, limit) => refuse(peer, addr)
        ? { status: RESERVATION_REFUSED }
        : originalReserve.call(store, peer, addr, limit)
    },
    guardConnects (refuse) {
      server.handleConnect = async (hop, options) => {
        const destination = destinationOf(hop.request)
        if (destination == null || !refuse(hop.connection, destination)) {
          await originalConnect.call(server, hop, options)
          return
        }
        await hop.stream.write(undefined, { encode: () => RESOURCE_LIMIT_EXCEEDED_RESPONSE }, options)
        // Close our side so the refused stream does not linger; a well-behaved client closes too.
        await hop.stream.unwrap().close(options)
      }
    },
    beforeReservationConfirmed (hook) {
      server.makeReservation = async (peer, expire) => {
        await hook(peer)
        return await originalMakeReservation.call(server, peer, expire)
      }
    }
  }
}
