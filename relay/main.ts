import { HELP_REQUESTED, parseRelayConfig, RELAY_USAGE } from './config.ts'
import { serverPort, startRelayHttpServer } from './http-server.ts'
import { describeLimitHit } from './limits.ts'
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

async function main (): Promise<void> {
  let config
  try {
    config = parseRelayConfig(process.argv.slice(2), process.env)
  } catch (err) {
    console.error(`webkad relay: ${describeStartupError(err, {})}`)
    console.error('run with --help for the options')
    process.exit(2)
  }
  if (config === HELP_REQUESTED) {
    console.log(RELAY_USAGE)
    return
  }

  let relay: Relay | undefined
  let http: Server | undefined
  try {
    // One line per offender and limit, on stderr where an operator sees it.
    relay = await startRelay(config, { onLimitHit: hit => { console.warn(`webkad relay: ${describeLimitHit(hit)}`) } })
    const node = relay.node
    const multiaddrs = (): string[] => node.getMultiaddrs().map(ma => ma.toString())
    http = await startRelayHttpServer({
      host: config.host,
      port: config.httpPort,
      serveDir: config.serveDir,
      bootstrapInfo: () => ({ peerId: node.peerId.toString(), multiaddrs: multiaddrs() }),
      status: () => relayStatus(relay!)
    })
    const httpBase = `http://${config.host}:${serverPort(http)}`
    console.log(`webkad relay ${node.peerId.toString()}`)
    for (const ma of multiaddrs()) console.log(`  multiaddr: ${ma}`)
    console.log(`  bootstrap: ${httpBase}/bootstrap   (status: ${httpBase}/status)`)
    console.log(`  data dir:  ${config.dataDir}`)
    console.log(`  limits:    ${config.maxReservations} reservations, ${config.maxConnections} connections, ${config.inboundConnectionsPerSecond} inbound/s per host`)
    console.log(`             per IP ${config.maxReservationsPerIp} reservations, ${config.maxConnectionsPerIp} connections, ${config.maxCircuitsPerIp} circuits; ` +
      `per peer ${config.maxConnectionsPerPeer} connections, ${config.inboundPerMinutePerPeer} inbound/min, ${config.maxCircuitsPerPeer} circuits`)
    for (const other of config.bootstrap) console.log(`  joins:     ${other}`)
    if (config.serveDir != null) console.log(`  app:       ${httpBase}/`)
  } catch (err) {
    console.error(`webkad relay: ${describeStartupError(err, { ws: config.wsPort, http: config.httpPort })}`)
    await relay?.stop().catch(() => {})
    process.exit(1)
  }

  let stopping = false
  const shutdown = (signal: string): void => {
    if (stopping) return
    stopping = true
    console.log(`webkad relay: ${signal}, shutting down`)
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
