import { parseArgs } from 'node:util'
import { multiaddr } from '@multiformats/multiaddr'
import { DEFAULT_RELAY_HTTP_PORT, DEFAULT_RELAY_WS_PORT } from '../src/p2p/constants.ts'
import { RelayConfigError } from '../src/p2p/errors.ts'

/** Everything the relay process can be told, after validation. */
export interface RelayConfig {
  /** Interface the WebSocket and HTTP listeners bind to. */
  host: string
  /** libp2p WebSocket port (0 picks a free port). */
  wsPort: number
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
  /** Other relays to join: relays form the DHT backbone that tabs on different relays meet through. */
  bootstrap: string[]
}

export const RELAY_DEFAULTS = {
  host: '127.0.0.1',
  wsPort: DEFAULT_RELAY_WS_PORT,
  httpPort: DEFAULT_RELAY_HTTP_PORT,
  dataDir: '.data/relay',
  // Sized for hundreds of tabs on one machine, all arriving from the same loopback host.
  maxReservations: 1024,
  maxConnections: 2048,
  inboundConnectionsPerSecond: 200
} as const

export const RELAY_USAGE = `usage: npm run relay -- [options]
  --host <ip>                    listen address (env WEBKAD_RELAY_HOST, default ${RELAY_DEFAULTS.host})
  --port <n>                     libp2p WebSocket port (env WEBKAD_RELAY_PORT, default ${RELAY_DEFAULTS.wsPort})
  --http-port <n>                HTTP port for /bootstrap and the app (env WEBKAD_HTTP_PORT, default ${RELAY_DEFAULTS.httpPort})
  --data-dir <path>              key and DHT records (env WEBKAD_DATA_DIR, default ${RELAY_DEFAULTS.dataDir})
  --serve <dir>                  also serve the built app from <dir> (env WEBKAD_SERVE)
  --max-reservations <n>         relay reservations held at once (default ${RELAY_DEFAULTS.maxReservations})
  --max-connections <n>          open connections (default ${RELAY_DEFAULTS.maxConnections})
  --inbound-per-second <n>       inbound connections per second per host (default ${RELAY_DEFAULTS.inboundConnectionsPerSecond})
  --bootstrap <multiaddr>        another relay to join (repeatable; env WEBKAD_RELAY_BOOTSTRAP, comma-separated)
  --help                         show this text`

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
        'max-reservations': { type: 'string' },
        'max-connections': { type: 'string' },
        'inbound-per-second': { type: 'string' },
        bootstrap: { type: 'string', multiple: true },
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

  const config: RelayConfig = {
    host,
    wsPort: wsPortText == null ? RELAY_DEFAULTS.wsPort : parsePort('--port', wsPortText),
    httpPort: httpPortText == null ? RELAY_DEFAULTS.httpPort : parsePort('--http-port', httpPortText),
    dataDir,
    maxReservations: values['max-reservations'] == null ? RELAY_DEFAULTS.maxReservations : parsePositive('--max-reservations', values['max-reservations']),
    maxConnections: values['max-connections'] == null ? RELAY_DEFAULTS.maxConnections : parsePositive('--max-connections', values['max-connections']),
    inboundConnectionsPerSecond: values['inbound-per-second'] == null ? RELAY_DEFAULTS.inboundConnectionsPerSecond : parsePositive('--inbound-per-second', values['inbound-per-second']),
    bootstrap: parseBootstrapList(values.bootstrap ?? (env.WEBKAD_RELAY_BOOTSTRAP ?? '').split(','))
  }
  if (serveDir != null && serveDir !== '') config.serveDir = serveDir
  if (config.wsPort !== 0 && config.wsPort === config.httpPort) {
    throw new RelayConfigError(`--port and --http-port must differ (both are ${config.wsPort})`)
  }
  return config
}
