import { logger } from '@libp2p/logger'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { Circuit, WebRTC } from '@multiformats/multiaddr-matcher'
import { WEBRTC_DIAL_ATTEMPTS } from './constants.ts'
import { BootnodeUnreachableError, DirectDialFailedError, NotConnectedError, ReservationFailedError } from './errors.ts'
import { createWebkadNode } from './node.ts'
import { kadInternals } from './dht/kad-internals.ts'
import { DhtOperations } from './dht/dht-operations.ts'
import { QueryLog } from './dht/query-trace.ts'
import { guardRecords } from './dht/record-guard.ts'
import { EMPTY_ROUTING_TABLE, watchRoutingTable } from './dht/routing-table-view.ts'
import { parseBootnodes, parsePeerIdInput } from './network/address-input.ts'
import { summarizeConnection } from './network/connections.ts'
import { closeDuplicateWebRTCConnections } from './network/duplicate-connections.ts'
import { delay, runOperation } from './operation.ts'
import { createStore } from './stores/store.ts'
import { MemoryDatastore } from 'datastore-core'
import { AuthoredRecords } from './scheduler/authored-records.ts'
import { createNetworkTasks } from './scheduler/network-tasks.ts'
import { Scheduler } from './scheduler/scheduler.ts'
import type { AuthoredRecord } from './scheduler/authored-records.ts'
import type { TaskState } from './scheduler/scheduler.ts'
import type { WebkadNode } from './node.ts'
import type { ConnectionSummary } from './network/connections.ts'
import type { OperationOptions } from './operation.ts'
import type { ReadableStore } from './stores/store.ts'
import type { IdentitySource } from './identity.ts'
import type { ClosestPeersResult, GetResult, PutResult } from './dht/dht-operations.ts'
import type { QueryTrace } from './dht/query-trace.ts'
import { DEFAULT_RECORD_LIFETIME_MS } from './dht/records.ts'
import type { RecordPayload } from './dht/records.ts'
import type { RoutingTableSnapshot } from './dht/routing-table-view.ts'
import type { ChatMessage, Conversation } from './services/chat/index.ts'
import type { KeyValueStorage } from './identity.ts'
import type { Datastore } from 'interface-datastore'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

const log = logger('webkad:session')

/** offline: no node; connecting: dialling the relay / waiting for a reservation; online: reserved on a relay; relay-lost: the relay went away. */
export type NodeStatus = 'offline' | 'connecting' | 'online' | 'relay-lost'

/** Milestones of the last Connect, in ms since it was clicked. */
export interface ConnectTimings {
  relayConnectedMs?: number
  reservationMs?: number
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

export interface FindPeerResult {
  peerId: string
  addresses: string[]
  durationMs: number
  /** FIND_NODE messages sent during the lookup. */
  queriesSent: number
  /** Who supplied the addresses: a remote peer (e.g. the relay's k-bucket) or this tab's own table. */
  answeredBy: string
  /** The lookup's trace in `queries`. */
  queryId: string
}

export interface DirectDialResult {
  peerId: string
  remoteAddr: string
  durationMs: number
  attempts: number
  /** True when a WebRTC connection already existed and was reused. */
  reused: boolean
}

export interface PingResult {
  peerId: string
  rttMs: number
}

export interface SessionInit {
  privateKey: PrivateKey
  identitySource: IdentitySource
  iceServers?: RTCIceServer[]
  /** false turns WebRTC off (chat then runs over the relay). @default true */
  webrtc?: boolean
  /** Opens the chat store for this identity (IndexedDB in the browser); in memory if omitted. */
  openChatDatastore?: (peerId: string) => Promise<Datastore>
  /** Remembers the bootnodes of the last successful Connect so a reload reconnects (sessionStorage). */
  storage?: KeyValueStorage & { removeItem(key: string): void }
  /** Direct WebRTC connections the auto-dial task aims for. @default 8 */
  maxDirectConnections?: number
  /** false: no background tasks (discovery stays manual, as in the original demo). @default true */
  scheduler?: boolean
}

/** sessionStorage entry with the bootnodes of the last successful Connect. */
export const LAST_BOOTNODES_KEY = 'webkad:bootnodes'

const RELAY_DIAL_TIMEOUT_MS = 10_000
const RESERVATION_TIMEOUT_MS = 15_000

/**
 * One tab's place in the network: owns the libp2p node from Connect to Disconnect and exposes
 * its state through stores the UI subscribes to. All async methods take an AbortSignal and
 * throw the named errors of errors.ts.
 */
export class WebkadSession {
  readonly peerId: PeerId
  private readonly init: SessionInit
  private readonly stateStore
  private readonly connectionsStore = createStore<readonly ConnectionSummary[]>([])
  private readonly routingTableStore = createStore<RoutingTableSnapshot>(EMPTY_ROUTING_TABLE)
  private readonly conversationsStore = createStore<readonly Conversation[]>([])
  private readonly tasksStore = createStore<readonly TaskState[]>([])
  private readonly authoredRecords = new AuthoredRecords()
  private scheduler?: Scheduler
  private chatDatastore?: Promise<Datastore>
  private readonly queryLog = new QueryLog()
  private currentNode?: WebkadNode
  private dhtOperations?: DhtOperations
  private detachNode?: () => void

  constructor (init: SessionInit) {
    this.init = init
    this.peerId = peerIdFromPrivateKey(init.privateKey)
    this.stateStore = createStore<SessionState>({
      status: 'offline',
      peerId: this.peerId.toString(),
      identitySource: init.identitySource,
      bootnodes: [],
      listenAddrs: [],
      timings: {}
    })
  }

  get state (): ReadableStore<SessionState> { return this.stateStore }
  get connections (): ReadableStore<readonly ConnectionSummary[]> { return this.connectionsStore }
  /** The tab's k-buckets, live. */
  get routingTable (): ReadableStore<RoutingTableSnapshot> { return this.routingTableStore }
  /** The scheduler's tasks with their timing and last results. */
  get tasks (): ReadableStore<readonly TaskState[]> { return this.tasksStore }
  /** Records this tab wrote, with their next republish. */
  get authored (): ReadableStore<readonly AuthoredRecord[]> { return this.authoredRecords.records }
  /** Chat conversations with their messages and delivery states. */
  get conversations (): ReadableStore<readonly Conversation[]> { return this.conversationsStore }
  /** The bootnodes a reload should reconnect to, if the tab was connected before it. */
  get rememberedBootnodes (): string | undefined { return this.init.storage?.getItem(LAST_BOOTNODES_KEY) ?? undefined }
  /** The last DHT queries started from this tab, with their traces (newest first). */
  get queries (): ReadableStore<readonly QueryTrace[]> { return this.queryLog.queries }
  /** The running libp2p node, if connected (for the console and tests). */
  get node (): WebkadNode | undefined { return this.currentNode }

  /**
   * Starts the node, dials the bootnode(s) and waits for a relay reservation. Throws
   * InvalidMultiaddrError before touching the network when the text is not usable.
   */
  async connect (bootnodeText: string, options: OperationOptions = {}): Promise<void> {
    const bootnodes = parseBootnodes(bootnodeText)
    await this.disconnect()
    const startedAt = performance.now()
    this.stateStore.update(state => ({ ...state, status: 'connecting', bootnodes: bootnodes.map(String), relayPeerId: undefined, listenAddrs: [], timings: {} }))
    this.chatDatastore ??= this.init.openChatDatastore?.(this.peerId.toString())
    const chatDatastore = await this.chatDatastore
    const datastore = guardRecords(new MemoryDatastore())
    const node = await createWebkadNode({ privateKey: this.init.privateKey, bootnodes, iceServers: this.init.iceServers, webrtc: this.init.webrtc, chatDatastore, datastore })
    this.currentNode = node
    this.dhtOperations = new DhtOperations(node, this.init.privateKey, this.queryLog)
    this.detachNode = this.attach(node)
    try {
      const relay = await runOperation('Connecting to the relay', { ...options, timeoutMs: options.timeoutMs ?? RELAY_DIAL_TIMEOUT_MS },
        async (signal) => await dialFirstReachable(node, bootnodes, signal))
      this.stateStore.update(state => ({ ...state, relayPeerId: relay.toString(), timings: { relayConnectedMs: performance.now() - startedAt } }))
      await runOperation('Waiting for the relay reservation', { ...options, timeoutMs: RESERVATION_TIMEOUT_MS },
        async (signal) => { await waitForReservation(node, signal) })
        .catch((err: unknown) => {
          if ((err as Error).name === 'OperationTimeoutError') {
            throw new ReservationFailedError('The relay accepted the connection but granted no reservation: it may be full (see its --max-reservations).')
          }
          throw err
        })
      // Announce the relayed addresses now rather than after the address manager's 1 s debounce.
      void node.services.identifyPush.push().catch(() => {})
      this.stateStore.update(state => ({ ...state, status: 'online', timings: { ...state.timings, reservationMs: performance.now() - startedAt } }))
      this.init.storage?.setItem(LAST_BOOTNODES_KEY, bootnodeText)
      if (this.init.scheduler !== false) this.startScheduler(node, datastore, bootnodes)
      log('online after %d ms', performance.now() - startedAt)
    } catch (err) {
      await this.disconnect()
      throw err
    }
  }

  /** Stops the node and forgets the bootnodes, so a reload stays offline. */
  async disconnectByUser (): Promise<void> {
    this.init.storage?.removeItem(LAST_BOOTNODES_KEY)
    await this.disconnect()
  }

  /** Stops the node; safe to call at any time. */
  async disconnect (): Promise<void> {
    const node = this.currentNode
    if (node == null) return
    this.currentNode = undefined
    this.dhtOperations = undefined
    this.scheduler?.stop()
    this.scheduler = undefined
    this.detachNode?.()
    this.detachNode = undefined
    this.stateStore.update(state => ({ ...state, status: 'offline', listenAddrs: [] }))
    this.connectionsStore.set([])
    await Promise.resolve(node.stop()).catch((err: unknown) => { log.error('error stopping node - %e', err) })
  }

  /**
   * Iterative FIND_NODE for a peer through the DHT (the relay's k-buckets know every tab).
   * Returns the addresses found; PeerNotFoundError when the lookup ends without them.
   */
  async findPeer (peerIdText: string, options: OperationOptions = {}): Promise<FindPeerResult> {
    const node = this.requireNode()
    const target = parsePeerIdInput(peerIdText, this.peerId)
    const dht = this.requireDht()
    return await runOperation('Find peer', options, async (signal) => {
      const found = await dht.findPeer(target, { signal })
      await node.peerStore.merge(target, { multiaddrs: found.addresses }, { signal })
      return {
        peerId: found.peerId,
        addresses: found.addresses.map(String),
        durationMs: found.durationMs,
        queriesSent: found.messagesSent,
        answeredBy: found.answeredBy,
        queryId: found.queryId
      }
    })
  }

  /**
   * Signs and stores a record under `/webkad/<name>` on the k closest peers; the scheduler
   * republishes it before it expires while this tab is open.
   */
  async put (key: string, payload: RecordPayload, options: OperationOptions & { lifetimeMs?: number } = {}): Promise<PutResult> {
    const dht = this.requireDht()
    const result = await runOperation('Put', options, async (signal) => await dht.put(key, payload, { signal, lifetimeMs: options.lifetimeMs }))
    this.authoredRecords.published({
      key: result.key, payload, lifetimeMs: options.lifetimeMs ?? DEFAULT_RECORD_LIFETIME_MS, sequence: result.sequence, publishedAt: Date.now(), expiresAt: result.expiresAt
    })
    // The republish task may be armed for up to a minute later: a short-lived record is due sooner.
    this.scheduler?.runWithin('republish', Math.max(0, this.authoredRecords.nextDueIn(Date.now())))
    return result
  }

  /** Runs a scheduler task now; resolves with its state after the run. */
  async runTaskNow (id: string): Promise<TaskState | undefined> {
    return await this.scheduler?.runNow(id)
  }

  /** Finds the best record under a key; see DhtOperations.get for quorum, correction and caching. */
  async get (key: string, options: OperationOptions & { quorum?: number } = {}): Promise<GetResult> {
    const dht = this.requireDht()
    return await runOperation('Get', options, async (signal) => await dht.get(key, { signal, quorum: options.quorum }))
  }

  /** The k peers closest to a key. */
  async closestPeers (key: string, options: OperationOptions = {}): Promise<ClosestPeersResult> {
    const dht = this.requireDht()
    return await runOperation('Closest peers', options, async (signal) => await dht.closestPeers(key, { signal }))
  }

  /** Queues a chat message; it is delivered (with retries) as soon as the peer can be reached. */
  async sendChat (peerIdText: string, text: string): Promise<ChatMessage> {
    const node = this.requireNode()
    const peer = parsePeerIdInput(peerIdText, this.peerId)
    return await node.services.chat.send(peer, text)
  }

  /** Opens (creates) a conversation with a peer, e.g. from a Find peer result. */
  openChat (peerIdText: string): string {
    const node = this.requireNode()
    const peer = parsePeerIdInput(peerIdText, this.peerId)
    node.services.chat.openConversation(peer)
    return peer.toString()
  }

  async markChatRead (peerIdText: string): Promise<void> {
    await this.requireNode().services.chat.markRead(parsePeerIdInput(peerIdText, this.peerId))
  }

  async setNickname (peerIdText: string, nickname: string): Promise<void> {
    await this.requireNode().services.chat.setNickname(parsePeerIdInput(peerIdText, this.peerId), nickname)
  }

  retryChat (): void {
    this.requireNode().services.chat.retryNow()
  }

  clearQueries (): void {
    this.queryLog.clear()
  }

  /**
   * Opens a direct browser-to-browser WebRTC connection, signalled through the relay.
   * Retries a bounded number of times: WebRTC set-up can fail transiently.
   */
  async dialDirect (peerIdText: string, options: OperationOptions = {}): Promise<DirectDialResult> {
    const node = this.requireNode()
    const target = parsePeerIdInput(peerIdText, this.peerId)
    return await runOperation('Direct connection', options, async (signal) => {
      const startedAt = performance.now()
      const existing = node.getConnections(target).find(connection => WebRTC.matches(connection.remoteAddr) && connection.status === 'open')
      if (existing != null) {
        return { peerId: target.toString(), remoteAddr: existing.remoteAddr.toString(), durationMs: 0, attempts: 0, reused: true }
      }
      const address = await this.webrtcAddressOf(target, signal)
      let lastError: unknown
      for (let attempt = 1; attempt <= WEBRTC_DIAL_ATTEMPTS; attempt++) {
        try {
          const connection = await node.dial(address, { signal })
          return { peerId: target.toString(), remoteAddr: connection.remoteAddr.toString(), durationMs: performance.now() - startedAt, attempts: attempt, reused: false }
        } catch (err) {
          if (signal.aborted) throw err
          lastError = err
          log('WebRTC dial attempt %d to %p failed - %e', attempt, target, err)
          await delay(200 * attempt, signal)
        }
      }
      throw new DirectDialFailedError(`No direct connection to ${target.toString()} after ${WEBRTC_DIAL_ATTEMPTS} attempts: ${(lastError as Error)?.message ?? 'unknown error'}`)
    }, 45_000)
  }

  /** libp2p ping; needs an unlimited (direct) connection, and opens one if it can. */
  async ping (peerIdText: string, options: OperationOptions = {}): Promise<PingResult> {
    const node = this.requireNode()
    const target = parsePeerIdInput(peerIdText, this.peerId)
    return await runOperation('Ping', { ...options, timeoutMs: options.timeoutMs ?? 10_000 }, async (signal) => {
      const rttMs = await node.services.ping.ping(target, { signal })
      return { peerId: target.toString(), rttMs }
    })
  }

  private startScheduler (node: WebkadNode, datastore: MemoryDatastore, bootnodes: Multiaddr[]): void {
    const dht = this.requireDht()
    const scheduler = new Scheduler()
    for (const task of createNetworkTasks({
      node,
      dht,
      kad: kadInternals(node.services.dht),
      datastore,
      bootnodes,
      maxDirectConnections: this.init.maxDirectConnections ?? 8,
      authored: this.authoredRecords,
      onRelayState: ({ reserved, relayPeerId }) => {
        this.stateStore.update(state => {
          if (reserved && (state.status !== 'online' || state.relayPeerId !== relayPeerId)) return { ...state, status: 'online', relayPeerId }
          if (!reserved && state.status === 'online') return { ...state, status: 'relay-lost' }
          return state
        })
      }
    })) scheduler.add(task)
    const stopMirroring = scheduler.tasks.subscribe(() => { this.tasksStore.set(scheduler.tasks.getSnapshot()) })
    scheduler.start()
    this.scheduler = scheduler
    const previousDetach = this.detachNode
    this.detachNode = () => {
      stopMirroring()
      this.tasksStore.set([])
      previousDetach?.()
    }
  }

  private requireDht (): DhtOperations {
    if (this.dhtOperations == null) throw new NotConnectedError('Connect to a relay first.')
    return this.dhtOperations
  }

  private requireNode (): WebkadNode {
    if (this.currentNode == null) throw new NotConnectedError('Connect to a relay first.')
    return this.currentNode
  }

  /** A WebRTC address for the peer: one it announced, else built from its circuit address. */
  private async webrtcAddressOf (target: PeerId, signal: AbortSignal): Promise<Multiaddr> {
    const node = this.requireNode()
    let known: Multiaddr[] = []
    try {
      known = (await node.peerStore.get(target, { signal })).addresses.map(address => address.multiaddr)
    } catch {
      known = []
    }
    if (known.length === 0) {
      known = (await this.findPeer(target.toString(), { signal })).addresses.map(text => multiaddr(text))
    }
    const announced = known.find(address => WebRTC.matches(address))
    // Peer store addresses lack the trailing /p2p/<target>: without it libp2p takes the relay's
    // /p2p/ as the peer to dial and hands back the existing relay connection.
    if (announced != null) return announced.getComponents().at(-1)?.name === 'p2p' ? announced : announced.encapsulate(`/p2p/${target.toString()}`)
    const circuit = known.find(address => Circuit.matches(address))
    if (circuit == null) throw new DirectDialFailedError(`Peer ${target.toString()} has no relayed address to signal WebRTC through.`)
    const base = circuit.toString().replace(new RegExp(`/p2p/${target.toString()}$`), '')
    return multiaddr(`${base}/webrtc/p2p/${target.toString()}`)
  }

  /** Mirrors node events into the stores; returns a function that detaches the listeners. */
  private attach (node: WebkadNode): () => void {
    const refreshConnections = (): void => {
      this.connectionsStore.set(node.getConnections().map(summarizeConnection))
    }
    const refreshAddresses = (): void => {
      const listenAddrs = node.getMultiaddrs().map(String)
      this.stateStore.update(state => sameList(state.listenAddrs, listenAddrs) ? state : { ...state, listenAddrs })
    }
    const kad = kadInternals(node.services.dht)
    const onDisconnect = (event: CustomEvent<PeerId>): void => {
      // A closed tab must leave the k-buckets at once, not after kad-dht's next failed ping.
      kad.routingTable.remove(event.detail).catch(() => {})
      const relay = this.stateStore.getSnapshot().relayPeerId
      if (relay != null && event.detail.toString() === relay) {
        this.stateStore.update(state => state.status === 'online' ? { ...state, status: 'relay-lost' } : state)
      }
    }
    node.addEventListener('connection:open', refreshConnections)
    node.addEventListener('connection:close', refreshConnections)
    node.addEventListener('self:peer:update', refreshAddresses)
    node.addEventListener('transport:listening', refreshAddresses)
    node.addEventListener('transport:close', refreshAddresses)
    node.addEventListener('peer:disconnect', onDisconnect)
    refreshConnections()
    refreshAddresses()
    const stopDeduplicating = closeDuplicateWebRTCConnections(node)
    const routingTable = watchRoutingTable(node, kadInternals(node.services.dht))
    const stopMirroring = routingTable.store.subscribe(() => { this.routingTableStore.set(routingTable.store.getSnapshot()) })
    this.routingTableStore.set(routingTable.store.getSnapshot())
    const chat = node.services.chat.conversations
    const stopChatMirroring = chat.subscribe(() => { this.conversationsStore.set(chat.getSnapshot()) })
    this.conversationsStore.set(chat.getSnapshot())
    return () => {
      stopDeduplicating()
      stopMirroring()
      stopChatMirroring()
      routingTable.stop()
      this.routingTableStore.set(EMPTY_ROUTING_TABLE)
      node.removeEventListener('connection:open', refreshConnections)
      node.removeEventListener('connection:close', refreshConnections)
      node.removeEventListener('self:peer:update', refreshAddresses)
      node.removeEventListener('transport:listening', refreshAddresses)
      node.removeEventListener('transport:close', refreshAddresses)
      node.removeEventListener('peer:disconnect', onDisconnect)
    }
  }
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

/** Resolves once the node announces a /p2p-circuit address, i.e. holds a relay reservation. */
async function waitForReservation (node: WebkadNode, signal: AbortSignal): Promise<void> {
  const reserved = (): boolean => node.getMultiaddrs().some(address => Circuit.matches(address))
  if (reserved()) return
  await new Promise<void>((resolve, reject) => {
    const check = (): void => {
      if (!reserved()) return
      cleanup()
      resolve()
    }
    const onAbort = (): void => { cleanup(); reject(signal.reason) }
    const cleanup = (): void => {
      node.removeEventListener('transport:listening', check)
      node.removeEventListener('self:peer:update', check)
      signal.removeEventListener('abort', onAbort)
    }
    node.addEventListener('transport:listening', check)
    node.addEventListener('self:peer:update', check)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

function sameList (a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((item, index) => item === b[index])
}
