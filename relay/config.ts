import { parseArgs } from 'node:util'
import { multiaddr } from '@multiformats/multiaddr'
import { DEFAULT_RELAY_HTTP_PORT, DEFAULT_RELAY_WS_PORT } from '../src/p2p/constants.ts'

/** UDP port of the WebRTC-Direct listener when not told otherwise. */
export const DEFAULT_RELAY_WEBRTC_DIRECT_PORT = 9092
import { RelayConfigError } from '../src/p2p/errors.ts'

/** Everything the relay process can be told, after validation. */
export interface RelayConfig {
  /** Interface the WebSocket and HTTP listeners bind to. */
  host: string
  /** libp2p WebSocket port (0 picks a free port). */
  wsPort: number
  /**
   * UDP port of the WebRTC-Direct listener (0 picks a free port); absent: no such listener.
   * Browsers on https pages dial it with only the certificate hash, no domain or CA certificate.
   */
  webrtcDirectPort?: number
  /** HTTP port for GET /bootstrap and, with `serveDir`, the built app (0 picks a free port). */
  httpPort: number
  /** Holds the relay's private key and its DHT records. */
  dataDir: string
  /** Directory of the built app to serve over HTTP, if any. */
  serveDir?: string
  /** Circuit relay v2 reservations held at once (library default 15). */
  maxReservations: number
  /** Connections the relay keeps open at once (library default 300). */
  maxConnections: number
  /** Inbound connections accepted per second from one host (library default 5). */
  inboundConnectionsPerSecond: number
  /** Reservations held by peers connected from one IP (IPv6: one /64). */
  maxReservationsPerIp: number
  /** Open connections from one IP (IPv6: one /64). */
  maxConnectionsPerIp: number
  /** Open connections from one peer. */
  maxConnectionsPerPeer: number
  /** Inbound connections one peer may open per minute (bursts up to the same number). */
  inboundPerMinutePerPeer: number
  /** Relayed circuits one peer takes part in at once, as source or destination. */
  maxCircuitsPerPeer: number
  /** Relayed circuits opened from one IP at once. */
  maxCircuitsPerIp: number
  /** Other relays to join: relays form the DHT backbone that tabs on different relays meet through. */
  bootstrap: string[]
  /**
   * 'reuse' (default): DHT requests reuse streams per peer (webkad's kad-dht patch); 'fresh': a
   * stream per request and a reset at its end, as stock kad-dht does (the bench's baseline).
   */
  dhtStreams: 'reuse' | 'fresh'
  /** 'text': lines for a person (the default); 'json': one JSON object per line and event. */
  logFormat: LogFormat
  /** Holder replication interval: the relay re-stores the records it holds on the current k closest. */
  replicationIntervalMs: number
}

export type LogFormat = 'text' | 'json'

const MAX_RESERVATIONS = 1024
const MAX_CONNECTIONS = 2048
const MAX_CIRCUITS_PER_PEER = 64

export const RELAY_DEFAULTS = {
  host: '127.0.0.1',
  wsPort: DEFAULT_RELAY_WS_PORT,
  httpPort: DEFAULT_RELAY_HTTP_PORT,
  webrtcDirectPort: DEFAULT_RELAY_WEBRTC_DIRECT_PORT,
  dataDir: '.data/relay',
  // Sized for hundreds of tabs on one machine, all arriving from the same loopback host.
  maxReservations: MAX_RESERVATIONS,
  maxConnections: MAX_CONNECTIONS,
  inboundConnectionsPerSecond: 200,
  // Per IP: by default as many as the relay holds in all (every local tab is 127.0.0.1); a public
  // relay sets them lower. When not given they follow --max-reservations / --max-connections.
  maxReservationsPerIp: MAX_RESERVATIONS,
  maxConnectionsPerIp: MAX_CONNECTIONS,
  // Per peer: a tab keeps one connection to the relay; a few more cover a reload or a network
  // change before the relay notices the old one is gone. Reconnects are seconds apart.
  maxConnectionsPerPeer: 8,
  inboundPerMinutePerPeer: 30,
  // go-libp2p allows 16; a tab signals every WebRTC dial through a circuit that then stays
  // open until its 2 min limit, so a tab among hundreds takes part in more at once.
  maxCircuitsPerPeer: MAX_CIRCUITS_PER_PEER,
  // When not given: as many as the peers an IP may hold reservations for could open.
  maxCircuitsPerIp: MAX_CIRCUITS_PER_PEER * MAX_RESERVATIONS,
  dhtStreams: 'reuse',
  logFormat: 'text',
  // Kademlia replicates hourly; a relay every 10 minutes (tabs every 3).
  replicationIntervalMs: 10 * 60_000
} as const

export const RELAY_USAGE = `usage: webkad-relay [options]        (in a checkout: npm run relay -- [options])
  --host <ip>                    listen address (env WEBKAD_RELAY_HOST, default ${RELAY_DEFAULTS.host})
  --port <n>                     libp2p WebSocket port (env WEBKAD_RELAY_PORT, default ${RELAY_DEFAULTS.wsPort})
  --webrtc-direct-port <n>       UDP port of the WebRTC-Direct listener, for https pages (env WEBKAD_RELAY_WEBRTC_DIRECT_PORT, default ${RELAY_DEFAULTS.webrtcDirectPort})
  --no-webrtc-direct             no WebRTC-Direct listener (env WEBKAD_RELAY_WEBRTC_DIRECT=off)
  --http-port <n>                HTTP port for /bootstrap and the app (env WEBKAD_HTTP_PORT, default ${RELAY_DEFAULTS.httpPort})
  --data-dir <path>              key and DHT records (env WEBKAD_DATA_DIR, default ${RELAY_DEFAULTS.dataDir})
  --serve <dir>                  also serve the built app from <dir> (env WEBKAD_SERVE)
  --max-reservations <n>         relay reservations held at once (default ${RELAY_DEFAULTS.maxReservations})
  --max-connections <n>          open connections (default ${RELAY_DEFAULTS.maxConnections})
  --inbound-per-second <n>       inbound connections per second per IP (default ${RELAY_DEFAULTS.inboundConnectionsPerSecond})
  --max-reservations-per-ip <n>  reservations held from one IP (default: --max-reservations)
  --max-connections-per-ip <n>   open connections from one IP (default: --max-connections)
  --max-connections-per-peer <n> open connections from one peer (default ${RELAY_DEFAULTS.maxConnectionsPerPeer})
  --inbound-per-minute-per-peer <n>
                                 inbound connections per minute per peer (default ${RELAY_DEFAULTS.inboundPerMinutePerPeer})
  --max-circuits-per-peer <n>    relayed circuits a peer is in at once (default ${RELAY_DEFAULTS.maxCircuitsPerPeer})
  --max-circuits-per-ip <n>      relayed circuits opened from one IP at once
                                 (default: circuits per peer x reservations per IP)
  --bootstrap <multiaddr>        another relay to join (repeatable; env WEBKAD_RELAY_BOOTSTRAP, comma-separated)
  --dht-streams reuse|fresh      reuse DHT streams per peer, or one per request as stock kad-dht (default reuse)
  --replicate-interval <s>       holder replication: re-store held records on the k closest every s seconds, 10-86400 (default ${RELAY_DEFAULTS.replicationIntervalMs / 1000})
  --log-format text|json         log lines for people, or one JSON object per line (env WEBKAD_RELAY_LOG_FORMAT, default text)
  --help                         show this text
every --max-* and --inbound-* limit also reads WEBKAD_RELAY_<FLAG>, e.g. WEBKAD_RELAY_MAX_CIRCUITS_PER_PEER;
per-IP limits count an IPv6 /64 as one IP`

/** The limit flags; each also reads WEBKAD_RELAY_<FLAG> from the environment. */
const LIMIT_FLAGS = [
  'max-reservations',
  'max-connections',
  'inbound-per-second',
  'max-reservations-per-ip',
  'max-connections-per-ip',
  'max-connections-per-peer',
  'inbound-per-minute-per-peer',
  'max-circuits-per-peer',
  'max-circuits-per-ip'
] as const
type LimitFlag = typeof LIMIT_FLAGS[number]

/** WEBKAD_RELAY_MAX_CIRCUITS_PER_PEER for max-circuits-per-peer. */
export function limitEnvName (flag: string): string {
  return `WEBKAD_RELAY_${flag.toUpperCase().replaceAll('-', '_')}`
}

/** Thrown (as a value, not an error) when --help was asked for. */
export const HELP_REQUESTED = Symbol('help')

function parseBootstrapList (entries: string[]): string[] {
  const list = entries.map(entry => entry.trim()).filter(entry => entry !== '')
  for (const entry of list) {
    try {
      const address = multiaddr(entry)
      if (address.getComponents().at(-1)?.name !== 'p2p') throw new Error('no /p2p/')
    } catch {
      throw new RelayConfigError(`--bootstrap must be another relay's full multiaddr ending in /p2p/<peer ID>, got "${entry}"`)
    }
  }
  return list
}

function parsePort (name: string, text: string): number {
  const port = Number(text)
  if (!/^\d+$/.test(text.trim()) || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RelayConfigError(`${name} must be a port number between 0 and 65535, got "${text}"`)
  }
  return port
}

function parsePositive (name: string, text: string): number {
  const value = Number(text)
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < 1) {
    throw new RelayConfigError(`${name} must be a positive integer, got "${text}"`)
  }
  return value
}

/**
 * Reads the relay configuration from command-line flags, then environment variables, then
 * defaults. Throws RelayConfigError with a one-line message on bad input.
 */
export function parseRelayConfig (argv: string[], env: NodeJS.ProcessEnv = {}): RelayConfig | typeof HELP_REQUESTED {
  let values
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        host: { type: 'string' },
        port: { type: 'string' },
        'http-port': { type: 'string' },
        'data-dir': { type: 'string' },
        serve: { type: 'string' },
        ...Object.fromEntries(LIMIT_FLAGS.map(flag => [flag, { type: 'string' as const }])),
        bootstrap: { type: 'string', multiple: true },
        'dht-streams': { type: 'string' },
        'replicate-interval': { type: 'string' },
        'log-format': { type: 'string' },
        'webrtc-direct-port': { type: 'string' },
        'no-webrtc-direct': { type: 'boolean' },
        help: { type: 'boolean' }
      }
    }))
  } catch (err) {
    throw new RelayConfigError((err as Error).message.split('\n')[0] ?? 'invalid arguments')
  }
  if (values.help === true) return HELP_REQUESTED

  const host = values.host ?? env.WEBKAD_RELAY_HOST ?? RELAY_DEFAULTS.host
  if (!/^[\w.:-]+$/.test(host)) throw new RelayConfigError(`--host must be an IP address or host name, got "${host}"`)
  const wsPortText = values.port ?? env.WEBKAD_RELAY_PORT
  const httpPortText = values['http-port'] ?? env.WEBKAD_HTTP_PORT
  const dataDir = values['data-dir'] ?? env.WEBKAD_DATA_DIR ?? RELAY_DEFAULTS.dataDir
  if (dataDir.trim() === '') throw new RelayConfigError('--data-dir must not be empty')
  const serveDir = values.serve ?? env.WEBKAD_SERVE
  const limitFlags = values as Partial<Record<LimitFlag, string>>
  const limit = (flag: LimitFlag): number | undefined => {
    const fromFlag = limitFlags[flag]
    if (fromFlag != null) return parsePositive(`--${flag}`, fromFlag)
    const fromEnv = env[limitEnvName(flag)]
    // An empty variable is unset, as for WEBKAD_SERVE.
    return fromEnv == null || fromEnv.trim() === '' ? undefined : parsePositive(limitEnvName(flag), fromEnv)
  }
  const maxReservations = limit('max-reservations') ?? RELAY_DEFAULTS.maxReservations
  const maxConnections = limit('max-connections') ?? RELAY_DEFAULTS.maxConnections
  const maxReservationsPerIp = limit('max-reservations-per-ip') ?? maxReservations
  const maxConnectionsPerIp = limit('max-connections-per-ip') ?? maxConnections
  const maxCircuitsPerPeer = limit('max-circuits-per-peer') ?? RELAY_DEFAULTS.maxCircuitsPerPeer
  if (maxReservationsPerIp > maxReservations) {
    throw new RelayConfigError(`--max-reservations-per-ip (${maxReservationsPerIp}) must not exceed --max-reservations (${maxReservations})`)
  }
  if (maxConnectionsPerIp > maxConnections) {
    throw new RelayConfigError(`--max-connections-per-ip (${maxConnectionsPerIp}) must not exceed --max-connections (${maxConnections})`)
  }

  const dhtStreams = values['dht-streams'] ?? 'reuse'
  if (dhtStreams !== 'reuse' && dhtStreams !== 'fresh') throw new RelayConfigError(`--dht-streams must be reuse or fresh, got "${dhtStreams}"`)
  const replicateText = values['replicate-interval']
  if (replicateText != null && (!/^\d{1,5}$/.test(replicateText) || Number(replicateText) < 10 || Number(replicateText) > 86_400)) {
    throw new RelayConfigError(`--replicate-interval must be a number of seconds from 10 to 86400, got "${replicateText}"`)
  }

  const logFormat = values['log-format'] ?? env.WEBKAD_RELAY_LOG_FORMAT ?? 'text'
  if (logFormat !== 'text' && logFormat !== 'json') throw new RelayConfigError(`--log-format must be text or json, got "${logFormat}"`)
  const wsPort = wsPortText == null ? RELAY_DEFAULTS.wsPort : parsePort('--port', wsPortText)
  const webrtcDirectOff = values['no-webrtc-direct'] === true || env.WEBKAD_RELAY_WEBRTC_DIRECT === 'off'
  const webrtcDirectText = values['webrtc-direct-port'] ?? env.WEBKAD_RELAY_WEBRTC_DIRECT_PORT
  if (webrtcDirectOff && values['webrtc-direct-port'] != null) {
    throw new RelayConfigError('--webrtc-direct-port and --no-webrtc-direct contradict each other')
  }
  const webrtcDirectPort = webrtcDirectOff
    ? undefined
    : webrtcDirectText == null ? RELAY_DEFAULTS.webrtcDirectPort : parsePort('--webrtc-direct-port', webrtcDirectText)

  const config: RelayConfig = {
    host,
    dhtStreams,
    logFormat,
    replicationIntervalMs: replicateText == null ? RELAY_DEFAULTS.replicationIntervalMs : Number(replicateText) * 1000,
    wsPort,
    httpPort: httpPortText == null ? RELAY_DEFAULTS.httpPort : parsePort('--http-port', httpPortText),
    dataDir,
    maxReservations,
    maxConnections,
    inboundConnectionsPerSecond: limit('inbound-per-second') ?? RELAY_DEFAULTS.inboundConnectionsPerSecond,
    maxReservationsPerIp,
    maxConnectionsPerIp,
    maxConnectionsPerPeer: limit('max-connections-per-peer') ?? RELAY_DEFAULTS.maxConnectionsPerPeer,
    inboundPerMinutePerPeer: limit('inbound-per-minute-per-peer') ?? RELAY_DEFAULTS.inboundPerMinutePerPeer,
    maxCircuitsPerPeer,
    maxCircuitsPerIp: limit('max-circuits-per-ip') ?? Math.min(Number.MAX_SAFE_INTEGER, maxCircuitsPerPeer * maxReservationsPerIp),
    bootstrap: parseBootstrapList(values.bootstrap ?? (env.WEBKAD_RELAY_BOOTSTRAP ?? '').split(','))
  }
  if (serveDir != null && serveDir !== '') config.serveDir = serveDir
  if (webrtcDirectPort != null) config.webrtcDirectPort = webrtcDirectPort
  if (config.wsPort !== 0 && config.wsPort === config.httpPort) {
    throw new RelayConfigError(`--port and --http-port must differ (both are ${config.wsPort})`)
  }
  return config
}
