import { createSocket } from 'node:dgram'
import { join } from 'node:path'
import { bootstrap } from '@libp2p/bootstrap'
import { RELAY_V2_HOP_CODEC, RELAY_V2_STOP_CODEC, circuitRelayServer } from '@libp2p/circuit-relay-v2'
import { identify, identifyPush } from '@libp2p/identify'
import { noise } from '@libp2p/noise'
import { ping } from '@libp2p/ping'
import { webSockets } from '@libp2p/websockets'
import { webRTCDirect } from '@libp2p/webrtc'
import { keychain } from '@libp2p/keychain'
import { yamux } from '@libp2p/yamux'
import { logger } from '@libp2p/logger'
import { LevelDatastore } from 'datastore-level'
import { createLibp2p } from 'libp2p'
import { Circuit } from '@multiformats/multiaddr-matcher'
import { DHT_PROTOCOL } from '../src/p2p/constants.ts'
import { WebRTCDirectListenError } from '../src/p2p/errors.ts'
import { webkadDHT } from '../src/p2p/dht/dht-config.ts'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { kadInternals } from '../src/p2p/dht/kad-internals.ts'
import { guardProviderRecords } from '../src/p2p/files/provider-guard.ts'
import { waitForRoutingTablePeer } from '../src/p2p/dht/routing-table-view.ts'
import { RelayRecordLifecycle } from './record-lifecycle.ts'
import { loadOrCreateRelayKey, prepareDataDir } from './identity.ts'
import { describeLimitHit, ipGroup, RelayLimits } from './limits.ts'
import { createRelayMetrics } from './metrics.ts'
import { circuitRelayServerInternals } from './relay-internals.ts'
import type { RelayMetrics } from './metrics.ts'
import type { RelayConfig } from './config.ts'
import type { LimitHit } from './limits.ts'
import type { RelayStatus } from './http-server.ts'
import type { KadRoutingTableInternals } from '../src/p2p/dht/kad-internals.ts'
import type { CircuitRelayService } from '@libp2p/circuit-relay-v2'
import type { Identify, IdentifyPush } from '@libp2p/identify'
import type { KadDHT } from '@libp2p/kad-dht'
import { KEEP_ALIVE } from '@libp2p/interface'
import type { Connection, ConnectionGater, Libp2p, PeerId, PeerInfo } from '@libp2p/interface'
import type { Ping } from '@libp2p/ping'
import type { Multiaddr } from '@multiformats/multiaddr'

const log = logger('webkad:relay')

export type RelayServices = {
  identify: Identify
  identifyPush: IdentifyPush
  ping: Ping
  relay: CircuitRelayService
  dht: KadDHT
}

export type RelayNode = Libp2p<RelayServices>

/** A running relay: the libp2p node plus the datastore it owns. */
export interface Relay {
  node: RelayNode
  /** Peers seen to offer circuit relay (hop): the other relays. */
  relayPeers: Set<string>
  /** Prometheus metrics (GET /metrics). */
  metrics: RelayMetrics
  /** The records it holds: how each arrived, replication, expiry (GET /status `records`). */
  records: RelayRecordLifecycle
  stop(): Promise<void>
}

export interface StartRelayOptions {
  /**
   * Told the first time each offender hits each limit (not on every refusal); by default a line
   * on the `webkad:relay` logger.
   */
  onLimitHit?(hit: LimitHit): void
}

/**
 * Starts node 1 of the network: WebSocket listener, circuit relay v2 server, and a DHT server
 * whose records live on disk in the data directory.
 */
export async function startRelay (config: RelayConfig, options: StartRelayOptions = {}): Promise<Relay> {
  const limits = new RelayLimits({
    maxConnectionsPerIp: config.maxConnectionsPerIp,
    maxConnectionsPerPeer: config.maxConnectionsPerPeer,
    inboundPerMinutePerPeer: config.inboundPerMinutePerPeer,
    maxReservationsPerIp: config.maxReservationsPerIp,
    maxCircuitsPerPeer: config.maxCircuitsPerPeer,
    maxCircuitsPerIp: config.maxCircuitsPerIp
  }, {
    onFirstHit: options.onLimitHit ?? (hit => { log(describeLimitHit(hit)) }),
    onRefusal: limit => { metrics.refused(limit) }
  })
  // The gater runs inside createLibp2p's node; it needs the node to count connections.
  const started: { node?: RelayNode } = {}
  // Our circuit check answers with a HOP status first; the library's per-connection stream
  // caps (which reset the stream) stay as a backstop above it.
  const hopStreamsPerConnection = Math.max(16, 2 * config.maxCircuitsPerPeer)
  await prepareDataDir(config.dataDir)
  if (config.webrtcDirectPort != null && config.webrtcDirectPort !== 0) await ensureUdpPortFree(config.host, config.webrtcDirectPort)
  const privateKey = await loadOrCreateRelayKey(config.dataDir)
  const datastore = new LevelDatastore(join(config.dataDir, 'datastore'))
  await datastore.open()
  // The records it holds (the same record layer as a tab's), their replication and expiry.
  const records = new RelayRecordLifecycle(datastore, privateKey, config.replicationIntervalMs)
  // Read on each scrape; empty until the node exists.
  const metrics = createRelayMetrics({
    connections: () => started.node?.getConnections() ?? [],
    reservations: () => started.node?.services.relay.reservations.size ?? 0,
    routingTableSize: () => started.node == null ? 0 : kadInternals(started.node.services.dht).routingTable.size,
    datastore
  })

  let node: RelayNode
  const relayPeers = new Set<string>()
  try {
    node = await createLibp2p({
      start: false,
      privateKey,
      // ADD_PROVIDER floods slowed and bounded per peer, per CID and in all, as on a tab (files/provider-guard.ts).
      datastore: guardProviderRecords(records.holding.datastore, { self: peerIdFromPrivateKey(privateKey).toString() }),
      // WebSocket first: the app and the harness take the first address as the default bootnode.
      addresses: {
        listen: [
          `/ip4/${config.host}/tcp/${config.wsPort}/ws`,
          ...(config.webrtcDirectPort != null ? [`/ip4/${config.host}/udp/${config.webrtcDirectPort}/webrtc-direct`] : [])
        ]
      },
      // WebRTC-Direct keeps its certificate's key in the keychain and the certificate in the
      // datastore (both in the data dir), so its certhash survives restarts. No STUN/TURN.
      transports: [webSockets(), ...(config.webrtcDirectPort != null ? [webRTCDirect({ rtcConfiguration: { iceServers: [] } })] : [])],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionGater: limitsGater(limits, () => started.node),
      connectionManager: {
        maxConnections: config.maxConnections,
        // Every local tab arrives from the same host, so the per-host rate must allow bursts of tabs.
        inboundConnectionThreshold: config.inboundConnectionsPerSecond,
        maxIncomingPendingConnections: Math.max(10, Math.ceil(config.inboundConnectionsPerSecond / 2)),
        // Other relays are tagged keep-alive: redial them every 5 s for as long as they are away.
        reconnectRetries: Number.MAX_SAFE_INTEGER,
        reconnectRetryInterval: 5_000,
        reconnectBackoffFactor: 1
      },
      ...(config.bootstrap.length > 0
        ? { peerDiscovery: [bootstrap({ list: config.bootstrap, timeout: 100, tagName: `${KEEP_ALIVE}-webkad-relay` })] }
        : {}),
      services: {
        keychain: keychain(),
        identify: identify(),
        identifyPush: identifyPush(),
        // The connection monitor and kad-dht both ping; one outbound ping stream per connection
        // (the default) makes one of them fail and the monitor then drops the connection.
        ping: ping({ maxOutboundStreams: 4, maxInboundStreams: 4 }),
        relay: circuitRelayServer({
          maxInboundHopStreams: hopStreamsPerConnection,
          maxOutboundStopStreams: hopStreamsPerConnection,
          reservations: {
            maxReservations: config.maxReservations,
            // Relayed connections only carry WebRTC signalling (and limited-connection protocols):
            // keep the library's per-circuit limits.
            applyDefaultLimit: true
          }
        }),
        // Identify replaces a peer's addresses with what it announces, and a tab's push sent before
        // its reservation announces none: FIND_NODE answers always carry a reserved tab's relayed
        // address, so a tab is findable from the moment its reservation is confirmed.
        dht: webkadDHT({ peerInfoMapper: (peer) => withRelayedAddress(peer, started.node), reuseStreams: config.dhtStreams === 'reuse' })
      }
    })
    started.node = node
    // Listen before start: the bootstrap dial to another relay can be identified before
    // createLibp2p would return (it did whenever WebRTC-Direct slowed start), and that relay was
    // then never counted as one.
    node.addEventListener('peer:identify', (event) => {
      if (event.detail.protocols.includes(RELAY_V2_HOP_CODEC)) relayPeers.add(event.detail.peerId.toString())
    })
    await node.start()
  } catch (err) {
    await Promise.resolve(started.node?.stop()).catch(() => {})
    await datastore.close()
    throw describeStartError(err, config)
  }

  guardRelayServer(node, limits)
  watchTabs(node)
  // Holders must stop serving records whose lifetime has passed, and replicate the others.
  await records.start(node)
  return {
    node,
    relayPeers,
    metrics,
    records,
    async stop () {
      records.stop()
      await node.stop()
      await datastore.close()
    }
  }
}

/**
 * Binds the WebRTC-Direct UDP port for a moment first: if it is taken, libdatachannel would print
 * four lines of its own on stdout before the listener fails; the relay says it in one.
 */
async function ensureUdpPortFree (host: string, port: number): Promise<void> {
  const socket = createSocket('udp4')
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject)
      socket.bind(port, host, () => { resolve() })
    })
  } catch (err) {
    throw udpListenError(host, port, (err as NodeJS.ErrnoException).code === 'EADDRINUSE' ? 'already in use' : (err as Error).message, err)
  } finally {
    await new Promise<void>(resolve => { try { socket.close(() => { resolve() }) } catch { resolve() } })
  }
}

function udpListenError (host: string, port: number, why: string, cause: unknown): WebRTCDirectListenError {
  return new WebRTCDirectListenError(`cannot listen for WebRTC-Direct on UDP ${host}:${port} (${why}): choose another --webrtc-direct-port, or --no-webrtc-direct`, { cause })
}

/** The WebRTC-Direct listener's start failures, in words an operator can act on. */
function describeStartError (err: unknown, config: RelayConfig): unknown {
  if (config.webrtcDirectPort == null || !(err instanceof Error)) return err
  if (/UDP|ICE/.test(err.message)) {
    return udpListenError(config.host, config.webrtcDirectPort, `in use, or not bindable: ${err.message}`, err)
  }
  if (/x509|asn1|PemData|loadCertificate/i.test(err.stack ?? '')) {
    return new WebRTCDirectListenError(`the stored WebRTC-Direct certificate in ${join(config.dataDir, 'datastore')} is unreadable (${err.message}); refusing to start rather than change the certhash tabs know`, { cause: err })
  }
  return err
}

/** Live counters for GET /status. */
export function relayStatus (relay: Relay): RelayStatus {
  const { node } = relay
  const relays = new Set<string>()
  for (const connection of node.getConnections()) {
    // Another relay is a peer that itself offers the hop protocol (tabs do not).
    if (relay.relayPeers.has(connection.remotePeer.toString())) relays.add(connection.remotePeer.toString())
  }
  return {
    peerId: node.peerId.toString(),
    connections: node.getConnections().length,
    reservations: node.services.relay.reservations.size,
    routingTable: kadInternals(node.services.dht).routingTable.size,
    relays: [...relays],
    rssBytes: process.memoryUsage().rss,
    records: relay.records.status()
  }
}

/**
 * The relay learns a tab's addresses only after the tab's reservation exists (identify push),
 * which is after kad-dht looked at the connection and found nothing to add. Add tabs once
 * identify shows the DHT protocol and addresses; forget them as soon as they disconnect so
 * reservations (TTL 2 h) and routing-table slots do not leak across tab reloads.
 */
function watchTabs (node: RelayNode): void {
  const kad = kadInternals(node.services.dht)
  node.addEventListener('peer:identify', (event) => {
    const { peerId, protocols, listenAddrs } = event.detail
    if (!protocols.includes(DHT_PROTOCOL) || listenAddrs.length === 0) return
    kad.onPeerConnect({ id: peerId, multiaddrs: listenAddrs }).catch((err: unknown) => {
      log.error('could not add %p to the routing table - %e', peerId, err)
    })
  })
  node.addEventListener('peer:disconnect', (event) => {
    forgetPeer(node, event.detail, kad.routingTable).catch((err: unknown) => {
      log.error('could not forget %p - %e', event.detail, err)
    })
  })
}

async function forgetPeer (node: RelayNode, peerId: PeerId, routingTable: KadRoutingTableInternals): Promise<void> {
  const reservations = node.services.relay.reservations
  // The reservation's expiry timer (2 h) would otherwise outlive it; `signal` is not in the public type.
  const reservation = reservations.get(peerId) as { signal?: { clear?: () => void } } | undefined
  reservation?.signal?.clear?.()
  if (reservations.delete(peerId)) log('freed reservation of %p', peerId)
  await routingTable.remove(peerId)
}

// Parsed once per address object: connections and reservations keep theirs.
const ipGroups = new WeakMap<Multiaddr, string | null>()

/** The IP group (limits.ts `ipGroup`) an address comes from, or undefined when it has no IP. */
function ipOf (address: Multiaddr): string | undefined {
  let group = ipGroups.get(address)
  if (group === undefined) {
    const ip = address.getComponents().find(component => component.name === 'ip4' || component.name === 'ip6')?.value
    group = ip == null ? null : ipGroup(ip)
    ipGroups.set(address, group)
  }
  return group ?? undefined
}

/**
 * Connection limits through libp2p's connection gater: a refused connection is closed during
 * its upgrade, before it counts. Per IP before the handshake; per peer once the handshake has
 * told who it is. Connections still being upgraded are not counted (libp2p bounds those with
 * maxIncomingPendingConnections).
 */
function limitsGater (limits: RelayLimits, node: () => RelayNode | undefined): ConnectionGater {
  return {
    denyInboundConnection (maConn) {
      const current = node()
      const ip = ipOf(maConn.remoteAddr)
      if (current == null || ip == null) return false
      const open = current.getConnections().filter(connection => ipOf(connection.remoteAddr) === ip).length
      return limits.refuseInboundConnection(ip, open) != null
    },
    denyInboundEncryptedConnection (peer, maConn) {
      const current = node()
      if (current == null) return false
      return limits.refuseInboundPeer(peer.toString(), ipOf(maConn.remoteAddr), current.getConnections(peer).length) != null
    }
  }
}

/**
 * Circuits a connection carries, read from its open streams: HOP streams the peer opened are
 * circuits it asked for (or asks for now), STOP streams the relay opened to it are circuits it
 * is the destination of. Closed streams leave the list, so nothing needs to be released.
 */
function circuitStreams (connection: Connection): { asSource: number, asDestination: number } {
  let asSource = 0
  let asDestination = 0
  for (const stream of connection.streams) {
    if (stream.protocol === RELAY_V2_HOP_CODEC && stream.direction === 'inbound') asSource++
    else if (stream.protocol === RELAY_V2_STOP_CODEC && stream.direction === 'outbound') asDestination++
  }
  return { asSource, asDestination }
}

function peerCircuits (node: RelayNode, peer: PeerId): number {
  let circuits = 0
  for (const connection of node.getConnections(peer)) {
    const { asSource, asDestination } = circuitStreams(connection)
    circuits += asSource + asDestination
  }
  return circuits
}

/**
 * Reservation and circuit limits inside the circuit relay server, so a refusal is the HOP
 * status the protocol defines: RESERVATION_REFUSED for a reservation over the per-IP limit,
 * RESOURCE_LIMIT_EXCEEDED for a CONNECT over a circuit limit.
 */
/** The addresses a tab holding a reservation here is reachable at: ours, through the circuit. */
function relayedAddressesOf (node: RelayNode, tab: PeerId): Multiaddr[] {
  return node.getMultiaddrs().filter(address => !Circuit.matches(address)).map(address => address.encapsulate(`/p2p-circuit/p2p/${tab.toString()}`))
}

/** `peer` with its relayed address added when it holds a reservation here. */
function withRelayedAddress (peer: PeerInfo, node: RelayNode | undefined): PeerInfo {
  if (node == null || !node.services.relay.reservations.has(peer.id)) return peer
  const known = new Set(peer.multiaddrs.map(String))
  return { ...peer, multiaddrs: [...peer.multiaddrs, ...relayedAddressesOf(node, peer.id).filter(address => !known.has(address.toString()))] }
}

/** Whether `peer` supports webkad's DHT, waiting for its identify if that has not arrived yet. */
async function speaksDht (node: RelayNode, peer: PeerId, signal: AbortSignal): Promise<boolean> {
  return await new Promise<boolean>((resolve) => {
    // Listen first: identify may complete while the peer store is being read.
    const onIdentify = (event: CustomEvent<{ peerId: PeerId, protocols: string[] }>): void => {
      if (event.detail.peerId.equals(peer)) done(event.detail.protocols.includes(DHT_PROTOCOL))
    }
    const done = (result: boolean): void => {
      node.removeEventListener('peer:identify', onIdentify)
      signal.removeEventListener('abort', onAbort)
      resolve(result)
    }
    const onAbort = (): void => { done(false) }
    node.addEventListener('peer:identify', onIdentify)
    signal.addEventListener('abort', onAbort, { once: true })
    node.peerStore.get(peer).then((info) => {
      // Protocols of streams it opened are merged in before identify: only identify sets the agent.
      if (info.protocols.includes(DHT_PROTOCOL)) done(true)
      else if (info.metadata.has('AgentVersion')) done(false)
    }, () => {})
  })
}

/** How long a reservation waits for its tab's identify and routing-table entry (a few ms normally). */
const ROUTING_TABLE_ADD_WAIT_MS = 1_000

function guardRelayServer (node: RelayNode, limits: RelayLimits): void {
  const server = circuitRelayServerInternals(node.services.relay)
  const reservations = node.services.relay.reservations
  // A tab is Online once it holds a reservation and its DHT is ready; another tab's FindPeer must
  // find it then, not only after its identify push (debounced) reached us: put it in the routing
  // table with its relayed address before confirming the reservation.
  const kad = kadInternals(node.services.dht)
  server.beforeReservationConfirmed(async (tab) => {
    try {
      // The reservation may come before identify has told us the tab's protocols.
      if (!await speaksDht(node, tab, AbortSignal.timeout(ROUTING_TABLE_ADD_WAIT_MS))) return
      // onPeerConnect only queues the add: wait for it (briefly; identify push adds it otherwise).
      const added = waitForRoutingTablePeer(kad, tab, AbortSignal.timeout(ROUTING_TABLE_ADD_WAIT_MS))
      await Promise.all([added, kad.onPeerConnect({ id: tab, multiaddrs: relayedAddressesOf(node, tab) })])
    } catch (err) {
      log.error('could not add %p to the routing table at reservation - %e', tab, err)
    }
  })
  server.guardReservations((peer, addr) => {
    const ip = ipOf(addr)
    let fromIp = 0
    if (ip != null) {
      for (const reservation of reservations.values()) if (ipOf(reservation.addr) === ip) fromIp++
    }
    return limits.refuseReservation(peer.toString(), ip, fromIp, reservations.has(peer)) != null
  })
  server.guardConnects((source, destination) => {
    const sourceIp = ipOf(source.remoteAddr)
    let sourceIpCircuits = 0
    if (sourceIp != null) {
      for (const connection of node.getConnections()) {
        if (ipOf(connection.remoteAddr) === sourceIp) sourceIpCircuits += circuitStreams(connection).asSource
      }
    }
    const destinationConnection = node.getConnections(destination)[0]
    // The request's own HOP stream is already open: it does not count against itself.
    return limits.refuseCircuit({
      source: source.remotePeer.toString(),
      sourceIp,
      sourceCircuits: Math.max(0, peerCircuits(node, source.remotePeer) - 1),
      sourceIpCircuits: Math.max(0, sourceIpCircuits - 1),
      destination: destination.toString(),
      destinationIp: destinationConnection == null ? undefined : ipOf(destinationConnection.remoteAddr),
      destinationCircuits: peerCircuits(node, destination)
    }) != null
  })
}
