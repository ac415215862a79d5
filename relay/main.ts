import { HELP_REQUESTED, parseRelayConfig, RELAY_USAGE } from './config.ts'
import { serverPort, startRelayHttpServer } from './http-server.ts'
import { describeLimitHit } from './limits.ts'
import { createRelayLog } from './log.ts'
import { relayStatus, startRelay } from './relay-node.ts'
import type { Relay } from './relay-node.ts'
import type { Server } from 'node:http'

/** Turns any start-up failure into one line a person can act on (no stack trace). */
function describeStartupError (err: unknown, ports: { ws?: number, http?: number }): string {
  const error = err as NodeJS.ErrnoException & { errors?: unknown[] }
  if (error?.name === 'RelayConfigError') return error.message
  const text = `${error?.message ?? String(err)} ${(error?.errors ?? []).map(e => (e as Error)?.message).join(' ')}`
  if (error?.code === 'EADDRINUSE' || text.includes('EADDRINUSE')) {
    return `port already in use (WebSocket ${ports.ws ?? '?'}, HTTP ${ports.http ?? '?'}): stop the other process or pick ports with --port/--http-port`
  }
  if (error?.code === 'EACCES' || text.includes('EACCES')) return `permission denied: ${text.trim()}`
  return text.trim().split('\n')[0] ?? 'unknown error'
}

/** The log format asked for, read loosely so that even a refused configuration is reported in it. */
function requestedLogFormat (argv: string[], env: NodeJS.ProcessEnv): 'text' | 'json' {
  const index = argv.lastIndexOf('--log-format')
  const value = argv.findLast(arg => arg.startsWith('--log-format='))?.slice('--log-format='.length) ??
    (index >= 0 ? argv[index + 1] : undefined) ?? env.WEBKAD_RELAY_LOG_FORMAT
  return value === 'json' ? 'json' : 'text'
}

async function main (): Promise<void> {
  const argv = process.argv.slice(2)
  let config
  try {
    config = parseRelayConfig(argv, process.env)
  } catch (err) {
    const message = describeStartupError(err, {})
    createRelayLog(requestedLogFormat(argv, process.env)).event('error', 'config-refused', message, {}, `webkad relay: ${message}\nrun with --help for the options`)
    process.exit(2)
  }
  if (config === HELP_REQUESTED) {
    console.log(RELAY_USAGE)
    return
  }

  const log = createRelayLog(config.logFormat)
  let relay: Relay | undefined
  let http: Server | undefined
  try {
    // One line per offender and limit, on stderr where an operator sees it.
    relay = await startRelay(config, {
      onLimitHit: hit => { log.event('warn', 'limit-reached', describeLimitHit(hit), { limit: hit.limit, max: hit.max, offender: hit.offender, ip: hit.ip }) }
    })
    const node = relay.node
    const metrics = relay.metrics
    const multiaddrs = (): string[] => node.getMultiaddrs().map(ma => ma.toString())
    http = await startRelayHttpServer({
      host: config.host,
      port: config.httpPort,
      serveDir: config.serveDir,
      bootstrapInfo: () => ({ peerId: node.peerId.toString(), multiaddrs: multiaddrs() }),
      status: () => relayStatus(relay!),
      metrics: async () => await metrics.scrape()
    })
    const httpBase = `http://${config.host}:${serverPort(http)}`
    const text = [
      `webkad relay ${node.peerId.toString()}`,
      ...multiaddrs().map(ma => `  multiaddr: ${ma}`),
      `  bootstrap: ${httpBase}/bootstrap   (status: ${httpBase}/status)`,
      `  metrics:   ${httpBase}/metrics`,
      `  data dir:  ${config.dataDir}`,
      `  limits:    ${config.maxReservations} reservations, ${config.maxConnections} connections, ${config.inboundConnectionsPerSecond} inbound/s per host`,
      `             per IP ${config.maxReservationsPerIp} reservations, ${config.maxConnectionsPerIp} connections, ${config.maxCircuitsPerIp} circuits; ` +
        `per peer ${config.maxConnectionsPerPeer} connections, ${config.inboundPerMinutePerPeer} inbound/min, ${config.maxCircuitsPerPeer} circuits`,
      ...config.bootstrap.map(other => `  joins:     ${other}`),
      ...(config.serveDir != null ? [`  app:       ${httpBase}/`] : [])
    ]
    log.event('info', 'listening', `listening as ${node.peerId.toString()}`, {
      peerId: node.peerId.toString(),
      multiaddrs: multiaddrs(),
      bootstrap: `${httpBase}/bootstrap`,
      status: `${httpBase}/status`,
      metrics: `${httpBase}/metrics`,
      dataDir: config.dataDir,
      joins: config.bootstrap,
      app: config.serveDir != null ? `${httpBase}/` : undefined
    }, text.join('\n'))
  } catch (err) {
    log.event('error', 'startup-failed', describeStartupError(err, { ws: config.wsPort, http: config.httpPort }))
    await relay?.stop().catch(() => {})
    process.exit(1)
  }

  let stopping = false
  const shutdown = (signal: string): void => {
    if (stopping) return
    stopping = true
    log.event('info', 'shutdown', `${signal}, shutting down`, { signal })
    // A second signal or a stuck close must not keep the process alive.
    setTimeout(() => process.exit(1), 5000).unref()
    http?.closeAllConnections()
    http?.close()
    relay?.stop().then(() => process.exit(0), () => process.exit(1))
  }
  process.on('SIGINT', () => shutdown('SIGINT'))
  process.on('SIGTERM', () => shutdown('SIGTERM'))
}

void main()
