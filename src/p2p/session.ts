import { logger } from '@libp2p/logger'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { NotConnectedError } from './errors.ts'
import { DEFAULT_RECORD_LIFETIME_MS } from './dht/records.ts'
import { QueryLog } from './dht/query-trace.ts'
import { EMPTY_ROUTING_TABLE } from './dht/routing-table-view.ts'
import { startLiveNode } from './live-node.ts'
import { parseBootnodes, parsePeerIdInput } from './network/address-input.ts'
import { dialDirect } from './network/direct-dial.ts'
import { RelayConnection } from './network/relay-connection.ts'
import { runOperation } from './operation.ts'
import { AuthoredRecords } from './scheduler/authored-records.ts'
import { startNetworkScheduler } from './scheduler/network-tasks.ts'
import { TabStorage } from './storage/tab-storage.ts'
import { createFollowingStore } from './stores/store.ts'
import { LAST_BOOTNODES_KEY } from './session-types.ts'
import type { ClosestPeersResult, DhtOperationOptions, DhtOperations, GetResult, PutResult } from './dht/dht-operations.ts'
import type { QueryTrace } from './dht/query-trace.ts'
import type { CrawlOptions, CrawlResult, KeyHoldersOptions, KeyHoldersResult } from './crawl/session-crawl.ts'
import type { DhtProgressEvent } from './dht/dht-progress.ts'
import type { RecordPayload } from './dht/records.ts'
import type { RoutingTableSnapshot } from './dht/routing-table-view.ts'
import type { KadInternals } from './dht/kad-internals.ts'
import type { LiveNode } from './live-node.ts'
import type { ConnectionSummary } from './network/connections.ts'
import type { DirectDialResult } from './network/direct-dial.ts'
import type { SessionState } from './network/relay-connection.ts'
import type { WebkadNode } from './node.ts'
import type { OperationOptions } from './operation.ts'
import type { FindPeerResult, PingResult, SessionInit } from './session-types.ts'
import type { AuthoredRecord } from './scheduler/authored-records.ts'
import type { Scheduler, TaskDefinition, TaskState } from './scheduler/scheduler.ts'
import type { ChatMessage, ChatService, Conversation } from './services/chat/index.ts'
import type { ReadableStore } from './stores/store.ts'
import type { PeerId } from '@libp2p/interface'

export type { NodeStatus, ConnectTimings, SessionState } from './network/relay-connection.ts'
export type { DirectDialResult } from './network/direct-dial.ts'
export type { FindPeerResult, PingResult, SessionInit } from './session-types.ts'
export { LAST_BOOTNODES_KEY } from './session-types.ts'

const log = logger('webkad:session')
const notConnected = (): never => { throw new NotConnectedError('Connect to a relay first.') }

/**
 * One tab's place in the network, as the UI sees it: a thin facade over the relay connection,
 * the live node with its DHT operations, the scheduler and chat. Its stores outlive each node.
 * All async methods take an AbortSignal and throw the named errors of errors.ts.
 */
export class WebkadSession {
  readonly peerId: PeerId
  private readonly init: SessionInit
  private readonly relay: RelayConnection
  private readonly queryLog = new QueryLog()
  private readonly authoredRecords = new AuthoredRecords()
  private readonly connectionsView = createFollowingStore<readonly ConnectionSummary[]>([])
  private readonly routingTableView = createFollowingStore<RoutingTableSnapshot>(EMPTY_ROUTING_TABLE)
  private readonly conversationsView = createFollowingStore<readonly Conversation[]>([])
  private readonly tasksView = createFollowingStore<readonly TaskState[]>([])
  /** The tab's datastores (IndexedDB per identity), opened once and kept across reconnects. */
  readonly storage: TabStorage
  private live?: LiveNode
  private scheduler?: Scheduler
  /** Tasks lazily loaded features add (e.g. files' re-provide); every scheduler runs them. */
  private readonly addedTasks: TaskDefinition[] = []
  private unfollow: Array<() => void> = []

  constructor (init: SessionInit) {
    this.init = init
    this.peerId = peerIdFromPrivateKey(init.privateKey)
    this.relay = new RelayConnection({ peerId: this.peerId, identitySource: init.identitySource })
    this.storage = new TabStorage({ peerId: this.peerId, openNodeDatastore: init.openNodeDatastore, openChatDatastore: init.openChatDatastore })
  }

  /** Status, relay and addresses (the relay connection is their only writer). */
  get state (): ReadableStore<SessionState> { return this.relay.state }
  get connections (): ReadableStore<readonly ConnectionSummary[]> { return this.connectionsView }
  get routingTable (): ReadableStore<RoutingTableSnapshot> { return this.routingTableView }
  /** The scheduler's tasks with their timing and last results. */
  get tasks (): ReadableStore<readonly TaskState[]> { return this.tasksView }
  get authored (): ReadableStore<readonly AuthoredRecord[]> { return this.authoredRecords.records }
  get conversations (): ReadableStore<readonly Conversation[]> { return this.conversationsView }
  /** The last DHT queries started from this tab, with their traces (newest first). */
  get queries (): ReadableStore<readonly QueryTrace[]> { return this.queryLog.queries }
  /** The bootnodes a reload should reconnect to, if the tab was connected before it. */
  get rememberedBootnodes (): string | undefined { return this.init.storage?.getItem(LAST_BOOTNODES_KEY) ?? undefined }
  /** The running libp2p node and its kad-dht adapter, if connected (for the console, tests and bench). */
  get node (): WebkadNode | undefined { return this.live?.node }
  get kad (): KadInternals | undefined { return this.live?.kad }
  /** Starts the node and reserves on a relay; InvalidMultiaddrError before any network work on bad text. */
  async connect (bootnodeText: string, options: OperationOptions = {}): Promise<void> {
    const bootnodes = parseBootnodes(bootnodeText)
    await this.disconnect()
    this.relay.begin(bootnodes)
    const live = await startLiveNode({ privateKey: this.init.privateKey, bootnodes, iceServers: this.init.iceServers, webrtc: this.init.webrtc, chatDatastore: await this.storage.chat(), holding: await this.storage.node(), dht: { reuseStreams: this.init.reuseDhtStreams ?? true, ...this.init.dht } })
    this.live = live
    this.unfollow = [this.connectionsView.follow(live.connections), this.routingTableView.follow(live.routingTable), this.conversationsView.follow(live.node.services.chat.conversations)]
    try {
      await this.relay.connect(live.node, { ...options, dhtReady: live.dhtReady })
      this.init.storage?.setItem(LAST_BOOTNODES_KEY, bootnodeText)
      if (this.init.scheduler === false) return
      this.scheduler = startNetworkScheduler({ ...live, relay: this.relay, authored: this.authoredRecords, maxDirectConnections: this.init.maxDirectConnections ?? 8, replicationIntervalMs: this.init.replicationIntervalMs, extraTasks: this.addedTasks, trace: () => this.queryLog.progressHandler() })
      this.unfollow.push(this.tasksView.follow(this.scheduler.tasks))
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
    const live = this.live
    if (live == null) return
    this.live = undefined
    this.scheduler?.stop()
    this.scheduler = undefined
    for (const unfollow of this.unfollow.splice(0)) unfollow()
    this.relay.detach()
    await live.stop().catch((err: unknown) => { log.error('error stopping node - %e', err) })
  }

  /** Iterative FIND_NODE for a peer's addresses; PeerNotFoundError when the lookup ends without them. */
  async findPeer (peerIdText: string, options: OperationOptions = {}): Promise<FindPeerResult> {
    const target = this.peer(peerIdText)
    return await this.dhtOperation('Find peer', options, async (dht, traced) => {
      const found = await dht.findPeer(target, traced)
      await this.requireLive().node.peerStore.merge(target, { multiaddrs: found.addresses }, { signal: traced.signal })
      return { peerId: found.peerId, addresses: found.addresses.map(String), durationMs: found.durationMs, queriesSent: found.messagesSent, answeredBy: found.answeredBy, queryId: found.queryId }
    })
  }

  /** Signs and stores a record on the k closest peers; the scheduler republishes it while the tab is open. */
  async put (key: string, payload: RecordPayload, options: OperationOptions & { lifetimeMs?: number } = {}): Promise<PutResult> {
    const result = await this.dhtOperation('Put', options, async (dht, traced) => await dht.put(key, payload, { ...traced, lifetimeMs: options.lifetimeMs }))
    this.authoredRecords.published({ key: result.key, payload, lifetimeMs: options.lifetimeMs ?? DEFAULT_RECORD_LIFETIME_MS, sequence: result.sequence, publishedAt: Date.now(), expiresAt: result.expiresAt })
    // The republish task may be armed for up to a minute later: a short-lived record is due sooner.
    this.scheduler?.runWithin('republish', Math.max(0, this.authoredRecords.nextDueIn(Date.now())))
    return result
  }

  /** Finds the best record under a key; see DhtOperations.get for quorum, correction and caching. */
  async get (key: string, options: OperationOptions & { quorum?: number } = {}): Promise<GetResult> {
    return await this.dhtOperation('Get', options, async (dht, traced) => await dht.get(key, { ...traced, quorum: options.quorum }))
  }

  async closestPeers (key: string, options: OperationOptions = {}): Promise<ClosestPeersResult> {
    return await this.dhtOperation('Closest peers', options, async (dht, traced) => await dht.closestPeers(key, traced))
  }

  /** Opens a direct WebRTC connection (or reuses one); looks the peer up first if need be. */
  async dialDirect (peerIdText: string, options: OperationOptions = {}): Promise<DirectDialResult> {
    const { node } = this.requireLive()
    const target = this.peer(peerIdText)
    return await runOperation('Direct connection', options, async (signal) => await dialDirect(node, target, {
      signal,
      findAddresses: async (peer, lookupSignal) => (await this.findPeer(peer.toString(), { signal: lookupSignal })).addresses.map(text => multiaddr(text))
    }), 45_000)
  }

  /** libp2p ping; needs an unlimited (direct) connection, and opens one if it can. */
  async ping (peerIdText: string, options: OperationOptions = {}): Promise<PingResult> {
    const { node } = this.requireLive()
    const target = this.peer(peerIdText)
    return await runOperation('Ping', { ...options, timeoutMs: options.timeoutMs ?? 10_000 }, async (signal) => ({ peerId: target.toString(), rttMs: await node.services.ping.ping(target, { signal }) }))
  }

  /** Crawls the whole network over standard FIND_NODE (module loaded on first use); see crawlNetwork. */
  async crawl (options: CrawlOptions = {}): Promise<CrawlResult> { return await (await import('./crawl/session-crawl.ts')).crawlFromNode(this.requireLive(), options) }
  /** Asks a key's k closest nodes of a crawl (GET_VALUE) which hold its record, and at which sequence; see findKeyHolders. */
  async keyHolders (crawl: CrawlResult, key: string, options: KeyHoldersOptions = {}): Promise<KeyHoldersResult> { return await (await import('./crawl/session-crawl.ts')).keyHoldersFromNode(this.requireLive(), crawl, key, options) }
  /** Adds a task to this scheduler and to every later one (after a reconnect). */
  addTask (task: TaskDefinition): void { this.addedTasks.push(task); this.scheduler?.add(task) }
  /** Runs a scheduler task now; resolves with its state after the run. */
  async runTaskNow (id: string): Promise<TaskState | undefined> { return await this.scheduler?.runNow(id) }
  clearQueries (): void { this.queryLog.clear() }
  /** An onProgress that traces one operation's DHT queries in the lookup list (the lazily loaded files feature). */
  traceHandler (): (event: DhtProgressEvent) => void { return this.queryLog.progressHandler() }

  /** Queues a chat message; it is delivered (with retries) as soon as the peer can be reached. */
  async sendChat (peerIdText: string, text: string): Promise<ChatMessage> { return await this.chat().send(this.peer(peerIdText), text) }
  /** Opens (creates) a conversation with a peer, e.g. from a Find peer result. */
  openChat (peerIdText: string): string { this.chat().openConversation(this.peer(peerIdText)); return this.peer(peerIdText).toString() }
  async markChatRead (peerIdText: string): Promise<void> { await this.chat().markRead(this.peer(peerIdText)) }
  async setNickname (peerIdText: string, nickname: string): Promise<void> { await this.chat().setNickname(this.peer(peerIdText), nickname) }
  retryChat (): void { this.chat().retryNow() }
  /** A DHT operation under runOperation's deadline, its queries traced into the query log. */
  private async dhtOperation<T> (what: string, options: OperationOptions, run: (dht: DhtOperations, traced: DhtOperationOptions) => Promise<T>): Promise<T> {
    const { dht } = this.requireLive()
    return await runOperation(what, options, async (signal) => await run(dht, { signal, onProgress: this.queryLog.progressHandler() }))
  }

  private requireLive (): LiveNode { return this.live ?? notConnected() }
  private chat (): ChatService { return this.requireLive().node.services.chat }
  private peer (peerIdText: string): PeerId { return parsePeerIdInput(peerIdText, this.peerId) }
}
