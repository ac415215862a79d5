import { circuitRelayServer } from '@libp2p/circuit-relay-v2'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { defaultLogger } from '@libp2p/logger'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { describe, expect, it, vi } from 'vitest'
import { circuitRelayServerInternals } from '../../relay/relay-internals.ts'
import type { CircuitRelayService, CircuitRelayServerComponents } from '@libp2p/circuit-relay-v2'
import type { PeerId } from '@libp2p/interface'

/** A circuit relay server as the library builds it; only what its constructor reads is given. */
function relayServer (): CircuitRelayService {
  return circuitRelayServer()({ logger: defaultLogger() } as unknown as CircuitRelayServerComponents)
}

async function somePeer (): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

describe('circuitRelayServerInternals', () => {
  it('finds the reservation store and the CONNECT handler in the installed @libp2p/circuit-relay-v2', () => {
    expect(() => circuitRelayServerInternals(relayServer())).not.toThrow()
  })

  it('fails loudly, by name, when the library no longer has them', () => {
    const changed = { reservations: new Map() } as unknown as CircuitRelayService
    expect(() => circuitRelayServerInternals(changed)).toThrow(expect.objectContaining({ name: 'RelayInternalsChangedError' }))
  })

  it('answers a guarded reservation RESERVATION_REFUSED and stores the others', async () => {
    const service = relayServer()
    const refused = await somePeer()
    const allowed = await somePeer()
    circuitRelayServerInternals(service).guardReservations(peer => peer.equals(refused))
    const store = (service as unknown as { reservationStore: { reserve(peer: PeerId, addr: unknown): { status: string } } }).reservationStore
    const addr = multiaddr('/ip4/127.0.0.1/tcp/1/ws')
    expect(store.reserve(refused, addr).status).toBe('RESERVATION_REFUSED')
    expect(store.reserve(allowed, addr).status).toBe('OK')
    expect(service.reservations.has(refused)).toBe(false)
    expect(service.reservations.has(allowed)).toBe(true)
    service.reservations.get(allowed)?.signal.clear()
  })

  it('answers a guarded CONNECT RESOURCE_LIMIT_EXCEEDED and closes its side; passes the others on', async () => {
    const service = relayServer()
    const server = service as unknown as { handleConnect(hop: unknown, options: unknown): Promise<void> }
    const library = vi.fn(async () => {})
    server.handleConnect = library
    const destination = await somePeer()
    const seen: string[] = []
    circuitRelayServerInternals(service).guardConnects((_source, peer) => { seen.push(peer.toString()); return seen.length === 1 })

    const written: Uint8Array[] = []
    const close = vi.fn(async () => {})
    const hop = {
      connection: { remotePeer: await somePeer() },
      request: { peer: { id: destination.toMultihash().bytes } },
      stream: {
        write: async (data: unknown, codec: { encode(data: unknown): Uint8Array }) => { written.push(codec.encode(data)) },
        unwrap: () => ({ close })
      }
    }
    await server.handleConnect(hop, {})
    // HopMessage { type: STATUS, status: RESOURCE_LIMIT_EXCEEDED = 201 }
    expect(written).toEqual([Uint8Array.of(0x08, 0x02, 0x28, 0xc9, 0x01)])
    expect(close).toHaveBeenCalledOnce()
    expect(library).not.toHaveBeenCalled()
    expect(seen).toEqual([destination.toString()])

    await server.handleConnect(hop, {})
    expect(library).toHaveBeenCalledOnce()
    // A malformed destination is the library's to answer (MALFORMED_MESSAGE), unguarded.
    await server.handleConnect({ ...hop, request: { peer: { id: Uint8Array.of(1, 2, 3) } } }, {})
    await server.handleConnect({ ...hop, request: {} }, {})
    expect(library).toHaveBeenCalledTimes(3)
    expect(seen).toHaveLength(2)
  })
})
