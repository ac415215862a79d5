/**
 * A child process that holds many lean relay clients for bench/node/relay-capacity.ts. Each
 * client is createStockRelayClient (bench/node/stock-relay-client.ts): what a tab needs to be
 * reachable through the relay and nothing else — not a webkad node (no WebRTC, no DHT, no chat,
 * no connection monitor); that file says why.
 *
 * Started with fork(); commands arrive as IPC messages (see WorkerRequest).
 */
import { collectGarbage, sleep } from '../lib/node-runtime.ts'
import { createStockRelayClient } from './stock-relay-client.ts'
import type { Libp2p } from '@libp2p/interface'

export type WorkerRequest =
  | { type: 'add', id: number, count: number, relay: string, perSecond: number, concurrency: number }
  | { type: 'stats', id: number, gc: boolean }
  /** Starts one client and stops it: loads and warms the code so the first step is not cold. */
  | { type: 'warm', id: number, relay: string }
  | { type: 'stop', id: number }

/** One client's attempt to hold a reservation. */
export interface ClientOutcome {
  ok: boolean
  /**
   * Why it failed: `refused` — the relay said no (RESERVATION_REFUSED, or it closed/reset the
   * connection: limits); `timeout` — nothing answered in time (an overloaded machine); `error`.
   */
  failure?: 'refused' | 'timeout' | 'error'
  /** From node.start() (WebSocket dial, noise, yamux, HOP RESERVE) until the reservation is held. */
  latencyMs: number
  error?: string
}

export type WorkerResponse =
  | { type: 'added', id: number, outcomes: ClientOutcome[] }
  | { type: 'stats', id: number, clients: number, connected: number, rssBytes: number, heapUsedBytes: number }
  | { type: 'warmed', id: number, outcome: ClientOutcome }
  | { type: 'stopped', id: number }

const clients: Libp2p[] = []

async function startClient (relay: string): Promise<ClientOutcome> {
  const node = await createStockRelayClient(relay)
  const startedAt = performance.now()
  try {
    // start() resolves once every listener is up, i.e. once the relay granted the reservation.
    await node.start()
    clients.push(node)
    return { ok: true, latencyMs: performance.now() - startedAt }
  } catch (err) {
    const latencyMs = performance.now() - startedAt
    await Promise.resolve(node.stop()).catch(() => {})
    const error = describe(err)
    return { ok: false, latencyMs, error, failure: classify(error) }
  }
}

function describe (err: unknown): string {
  const error = err as Error
  // libp2p wraps the listener's error ("Some configured addresses failed…:\n<addr>: <cause>\n
  // <stack>"); the cause line is the part worth reporting.
  const lines = `${error.message ?? String(err)}`.split('\n').map(line => line.trim()).filter(line => line !== '' && !line.startsWith('at '))
  const cause = (lines.length > 1 ? lines[1] : lines[0]) ?? error.name
  return cause.replace(/^\S*\/p2p-circuit:\s*/, '').replace(/\s+at .*$/, '').slice(0, 160)
}

function classify (error: string): NonNullable<ClientOutcome['failure']> {
  if (/timeout|timed out|aborted/i.test(error)) return 'timeout'
  if (/REFUSED|RESOURCE_LIMIT|closed|reset|denied|ECONNREFUSED|ECONNRESET|EPIPE/i.test(error)) return 'refused'
  return 'error'
}

/** Starts `count` clients, at most `perSecond` new ones per second and `concurrency` at once. */
async function addClients (count: number, relay: string, perSecond: number, concurrency: number): Promise<ClientOutcome[]> {
  const outcomes: ClientOutcome[] = []
  const gapMs = 1000 / perSecond
  let running = 0
  const pending: Array<Promise<void>> = []
  for (let index = 0; index < count; index++) {
    const launchedAt = performance.now()
    while (running >= concurrency) await sleep(5)
    running++
    pending.push(startClient(relay).then(outcome => { outcomes.push(outcome) }).finally(() => { running-- }))
    const wait = gapMs - (performance.now() - launchedAt)
    if (wait > 0) await sleep(wait)
  }
  await Promise.all(pending)
  return outcomes
}

async function handle (request: WorkerRequest): Promise<WorkerResponse> {
  switch (request.type) {
    case 'add':
      return { type: 'added', id: request.id, outcomes: await addClients(request.count, request.relay, request.perSecond, request.concurrency) }
    case 'stats': {
      if (request.gc) await collectGarbage()
      const memory = process.memoryUsage()
      const connected = clients.filter(client => client.getConnections().length > 0).length
      return { type: 'stats', id: request.id, clients: clients.length, connected, rssBytes: memory.rss, heapUsedBytes: memory.heapUsed }
    }
    case 'warm': {
      const outcome = await startClient(request.relay)
      await Promise.all(clients.splice(0).map(async client => { await Promise.resolve(client.stop()).catch(() => {}) }))
      return { type: 'warmed', id: request.id, outcome }
    }
    case 'stop':
      await Promise.all(clients.splice(0).map(async client => { await Promise.resolve(client.stop()).catch(() => {}) }))
      return { type: 'stopped', id: request.id }
  }
}

process.on('message', (message: WorkerRequest) => {
  handle(message).then(response => {
    process.send?.(response)
    if (response.type === 'stopped') setTimeout(() => process.exit(0), 50)
  }, (err: unknown) => {
    console.error('relay client worker:', err)
    process.exit(1)
  })
})
// The parent going away must not leave clients behind.
process.on('disconnect', () => { process.exit(0) })
