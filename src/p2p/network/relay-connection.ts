import { logger } from '@libp2p/logger'
import { Circuit } from '@multiformats/multiaddr-matcher'
import { BootnodeUnreachableError, ReservationFailedError } from '../errors.ts'
import { runOperation } from '../operation.ts'
import { createStore } from '../stores/store.ts'
import { announceAddresses } from './announce-addresses.ts'
import type { IdentitySource } from '../identity.ts'
import type { WebkadNode } from '../node.ts'
import type { OperationOptions } from '../operation.ts'
import type { ReadableStore } from '../stores/store.ts'
import type { PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

const log = logger('webkad:relay-connection')

/** offline: no node; connecting: dialling the relay / waiting for a reservation; online: reserved on a relay; relay-lost: the relay went away. */
export type NodeStatus = 'offline' | 'connecting' | 'online' | 'relay-lost'

/** Milestones of the last Connect, in ms since it was clicked. */
export interface ConnectTimings {
  relayConnectedMs?: number
  reservationMs?: number
  /** The relay in the routing table: Online. */
  dhtReadyMs?: number
}

export interface SessionState {
  status: NodeStatus
  peerId: string
  identitySource: IdentitySource
  /** The bootnodes of the current (or last) Connect, as typed. */
  bootnodes: string[]
  relayPeerId?: string
  listenAddrs: string[]
  timings: ConnectTimings
}

/** What a reservation check found; `redialed` when it had to dial a bootnode again. */
export type ReservationCheck =
  | { reserved: true, relayPeerId: string, redialed: boolean }
  | { reserved: false }

/** Online waits at most this long for the DHT to be ready (it is within tens of ms normally). */
const DHT_READY_TIMEOUT_MS = 5_000
const RELAY_DIAL_TIMEOUT_MS = 10_000
const RESERVATION_TIMEOUT_MS = 15_000
/** The identify-push to the relay normally takes a few ms on one connection. */
const ANNOUNCE_TIMEOUT_MS = 3_000
/** How long a redial waits for the circuit transport to reserve again. */
const REDIAL_RESERVATION_TIMEOUT_MS = 8_000

/**
 * The tab's place on a relay: dials the bootnodes, waits for the reservation, and is the only
 * writer of the relay status (the UI's status dot) and of the tab's announced addresses.
 */
export class RelayConnection {
  private readonly store: ReturnType<typeof createStore<SessionState>>
  private node?: WebkadNode
  private bootnodes: Multiaddr[] = []
  private startedAt = 0
  private detachNode?: () => void

  constructor (identity: { peerId: PeerId, identitySource: IdentitySource }) {
    this.store = createStore<SessionState>({
      status: 'offline',
      peerId: identity.peerId.toString(),
      identitySource: identity.identitySource,
      bootnodes: [],
      listenAddrs: [],
      timings: {}
    })
  }

  get state (): ReadableStore<SessionState> { return this.store }

  /** Shows the status `connecting` for these bootnodes while the node is being created. */
  begin (bootnodes: Multiaddr[]): void {
    this.detach()
    this.bootnodes = bootnodes
    this.startedAt = performance.now()
    this.store.update(state => ({ ...state, status: 'connecting', bootnodes: bootnodes.map(String), relayPeerId: undefined, listenAddrs: [], timings: {} }))
  }

  /**
   * Dials the first reachable bootnode of `begin` and waits for the relay's reservation, for the
   * relay to know our addresses and for `dhtReady`; the status is `online` when it resolves, so a
   * first click on Find peer works. Throws BootnodeUnreachableError or ReservationFailedError.
   */
  async connect (node: WebkadNode, options: OperationOptions & { dhtReady?(relay: PeerId, signal: AbortSignal): Promise<void> } = {}): Promise<void> {
    const { bootnodes, startedAt } = this
    this.node = node
    this.detachNode = this.watch(node)
    const relay = await runOperation('Connecting to the relay', { ...options, timeoutMs: options.timeoutMs ?? RELAY_DIAL_TIMEOUT_MS },
      async (signal) => await dialFirstReachable(node, bootnodes, signal))
    this.store.update(state => ({ ...state, relayPeerId: relay.toString(), timings: { relayConnectedMs: performance.now() - startedAt } }))
    await runOperation('Waiting for the relay reservation', { ...options, timeoutMs: RESERVATION_TIMEOUT_MS },
      async (signal) => await waitForReservation(node, signal))
      .catch((err: unknown) => {
        if ((err as Error).name === 'OperationTimeoutError') {
          throw new ReservationFailedError('The relay accepted the connection but granted no reservation: it may be full (see its --max-reservations).')
        }
        throw err
      })
    this.store.update(state => ({ ...state, timings: { ...state.timings, reservationMs: performance.now() - startedAt } }))
    // Announce the relayed addresses before Online: until the relay knows them, other tabs'
    // FindPeer cannot return this tab.
    await runOperation('Announcing the relayed addresses', { ...options, timeoutMs: ANNOUNCE_TIMEOUT_MS },
      async () => { await announceAddresses(node.services.identifyPush) })
      .catch((err: unknown) => {
        if (options.signal?.aborted === true) throw err
        log('could not announce the relayed addresses - %e', err)
      })
    const ready = AbortSignal.any([AbortSignal.timeout(DHT_READY_TIMEOUT_MS), ...(options.signal != null ? [options.signal] : [])])
    await options.dhtReady?.(relay, ready).catch((err: unknown) => {
      if (options.signal?.aborted === true) throw err
      log('DHT not ready %d ms after the reservation - %e', DHT_READY_TIMEOUT_MS, err)
    })
    this.store.update(state => ({ ...state, status: 'online', timings: { ...state.timings, dhtReadyMs: performance.now() - startedAt } }))
    log('online after %d ms', performance.now() - startedAt)
  }

  /**
   * Checks that the node holds a reservation on a relay it is still connected to; if not, marks
   * the relay lost and dials the bootnodes again (the circuit transport then reserves on its own).
   */
  async ensureReserved (signal: AbortSignal): Promise<ReservationCheck> {
    const node = this.node
    if (node == null) return { reserved: false }
    const current = reservedRelayIds(node).find(relay => node.getConnections().some(connection => connection.remotePeer.toString() === relay && connection.status === 'open'))
    if (current != null) {
      this.markReserved(current)
      return { reserved: true, relayPeerId: current, redialed: false }
    }
    this.markLost()
    const relayIds = new Set(this.bootnodes.map(address => address.getComponents().findLast(component => component.name === 'p2p')?.value).filter((id): id is string => id != null))
    for (const bootnode of this.bootnodes) {
      try {
        await node.dial(bootnode, { signal })
        const relay = await waitForReservation(node, AbortSignal.any([signal, AbortSignal.timeout(REDIAL_RESERVATION_TIMEOUT_MS)]), relayIds)
        this.markReserved(relay)
        return { reserved: true, relayPeerId: relay, redialed: true }
      } catch {
        // try the next bootnode
      }
    }
    return { reserved: false }
  }

  /** Forgets the node: the status is offline. */
  detach (): void {
    this.detachNode?.()
    this.detachNode = undefined
    this.node = undefined
    this.store.update(state => state.status === 'offline' && state.listenAddrs.length === 0 ? state : { ...state, status: 'offline', listenAddrs: [] })
  }

  private markReserved (relayPeerId: string): void {
    this.store.update(state => state.status !== 'online' || state.relayPeerId !== relayPeerId ? { ...state, status: 'online', relayPeerId } : state)
  }

  private markLost (): void {
    this.store.update(state => state.status === 'online' ? { ...state, status: 'relay-lost' } : state)
  }

  /** Follows the node's addresses, and notices at once when the relay connection goes. */
  private watch (node: WebkadNode): () => void {
    const refreshAddresses = (): void => {
      const listenAddrs = node.getMultiaddrs().map(String)
      this.store.update(state => sameList(state.listenAddrs, listenAddrs) ? state : { ...state, listenAddrs })
    }
    const onDisconnect = (event: CustomEvent<PeerId>): void => {
      if (event.detail.toString() === this.store.getSnapshot().relayPeerId) this.markLost()
    }
    node.addEventListener('self:peer:update', refreshAddresses)
    node.addEventListener('transport:listening', refreshAddresses)
    node.addEventListener('transport:close', refreshAddresses)
    node.addEventListener('peer:disconnect', onDisconnect)
    refreshAddresses()
    return () => {
      node.removeEventListener('self:peer:update', refreshAddresses)
      node.removeEventListener('transport:listening', refreshAddresses)
      node.removeEventListener('transport:close', refreshAddresses)
      node.removeEventListener('peer:disconnect', onDisconnect)
    }
  }
}

/** The relays this node announces a /p2p-circuit address through, i.e. holds a reservation on. */
function reservedRelayIds (node: WebkadNode): string[] {
  return node.getMultiaddrs()
    .filter(address => Circuit.matches(address))
    .map(address => address.getComponents().find(component => component.name === 'p2p')?.value)
    .filter((id): id is string => id != null)
}

/**
 * Resolves with the relay's peer ID once the node announces a /p2p-circuit address through one
 * of `relayIds` (any relay when empty), i.e. holds a reservation there.
 */
export async function waitForReservation (node: WebkadNode, signal: AbortSignal, relayIds: ReadonlySet<string> = new Set()): Promise<string> {
  const reserved = (): string | undefined => reservedRelayIds(node).find(id => relayIds.size === 0 || relayIds.has(id))
  return await new Promise<string>((resolve, reject) => {
    const check = (): void => {
      const relay = reserved()
      if (relay == null) return
      cleanup()
      resolve(relay)
    }
    const onAbort = (): void => { cleanup(); reject(signal.reason) }
    const cleanup = (): void => {
      node.removeEventListener('transport:listening', check)
      node.removeEventListener('self:peer:update', check)
      signal.removeEventListener('abort', onAbort)
    }
    if (signal.aborted) { reject(signal.reason); return }
    node.addEventListener('transport:listening', check)
    node.addEventListener('self:peer:update', check)
    signal.addEventListener('abort', onAbort, { once: true })
    check()
  })
}

async function dialFirstReachable (node: WebkadNode, bootnodes: Multiaddr[], signal: AbortSignal): Promise<PeerId> {
  const failures: string[] = []
  for (const bootnode of bootnodes) {
    try {
      const connection = await node.dial(bootnode, { signal })
      return connection.remotePeer
    } catch (err) {
      if (signal.aborted) throw err
      failures.push(`${bootnode.toString()}: ${describeDialError(err)}`)
    }
  }
  throw new BootnodeUnreachableError(`Could not reach the relay. ${failures.join('; ')}`)
}

function describeDialError (err: unknown): string {
  const error = err as Error & { errors?: Error[] }
  const inner = error.errors?.[0] ?? error
  if (inner.name === 'EncryptionFailedError' || inner.name === 'UnexpectedPeerError' || inner.name === 'InvalidCryptoExchangeError') {
    return `the server there is not the libp2p peer in the address (${inner.name})`
  }
  if (/closed|refused|ECONNREFUSED|WebSocket/i.test(inner.message) || inner.name === 'ConnectionFailedError') {
    return 'nothing answered there (is the relay running, and is the port right?)'
  }
  return `${inner.name}: ${inner.message}`
}

function sameList (a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((item, index) => item === b[index])
}
