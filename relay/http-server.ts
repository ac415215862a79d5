import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { createServer } from 'node:http'
import { extname, join, normalize, resolve, sep } from 'node:path'
import type { Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { RelayRecordsStatus } from './record-lifecycle.ts'

/** What GET /bootstrap answers: the relay's peer ID and dialable multiaddrs. */
export interface BootstrapInfo {
  peerId: string
  multiaddrs: string[]
}

/** What GET /status answers: live counters for operators and tests. */
export interface RelayStatus {
  peerId: string
  connections: number
  reservations: number
  routingTable: number
  /** Other relays this relay is connected to (from --bootstrap, or that joined it). */
  relays: string[]
  rssBytes: number
  /** Records held (by how they arrived), their bytes, and the last replication round. */
  records: RelayRecordsStatus
}

export interface RelayHttpServerInit {
  host: string
  port: number
  bootstrapInfo(): BootstrapInfo
  status?(): RelayStatus
  /** Prometheus text exposition for GET /metrics. */
  metrics?(): Promise<{ contentType: string, body: string }>
  /** Serve the built app from here; GET /bootstrap is always served. */
  serveDir?: string
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8'
}

function sendJson (res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    // The app may be served from another origin (Vite dev server, another machine).
    'access-control-allow-origin': '*',
    'cache-control': 'no-store'
  })
  res.end(JSON.stringify(body))
}

async function sendFile (res: ServerResponse, path: string): Promise<boolean> {
  const info = await stat(path).catch(() => undefined)
  if (info == null || !info.isFile()) return false
  res.writeHead(200, {
    'content-type': CONTENT_TYPES[extname(path)] ?? 'application/octet-stream',
    'content-length': info.size,
    'cache-control': path.includes(`${sep}assets${sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache'
  })
  createReadStream(path).pipe(res)
  return true
}

/**
 * The relay's HTTP side: GET /bootstrap (JSON, CORS) so the app can pre-fill the bootnode
 * field, and optionally the built app itself so `npm start` needs one process.
 */
export async function startRelayHttpServer (init: RelayHttpServerInit): Promise<Server> {
  const root = init.serveDir == null ? undefined : resolve(init.serveDir)
  const server = createServer((req, res) => {
    // A request target that is no URL (e.g. `GET http://[`) makes new URL throw: 400, not a crash.
    let url: URL
    try {
      url = new URL(req.url ?? '/', 'http://relay.invalid')
    } catch {
      sendJson(res, 400, { error: 'bad request' })
      return
    }
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { 'access-control-allow-origin': '*', 'access-control-allow-methods': 'GET' })
      res.end()
      return
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendJson(res, 405, { error: 'method not allowed' })
      return
    }
    if (url.pathname === '/status' && init.status != null) {
      sendJson(res, 200, init.status())
      return
    }
    if (url.pathname === '/metrics' && init.metrics != null) {
      init.metrics().then(({ contentType, body }) => {
        res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' })
        res.end(req.method === 'HEAD' ? undefined : body)
      }, () => { sendJson(res, 500, { error: 'metrics unavailable' }) })
      return
    }
    if (url.pathname === '/bootstrap') {
      sendJson(res, 200, preferHost(init.bootstrapInfo(), req.headers.host))
      return
    }
    if (root == null) {
      sendJson(res, 404, { error: 'not found' })
      return
    }
    // A malformed escape (e.g. /%ff) makes decodeURIComponent throw: answer 400, do not crash.
    let pathname: string
    try {
      pathname = decodeURIComponent(url.pathname)
    } catch {
      sendJson(res, 400, { error: 'bad request' })
      return
    }
    // Resolve inside the served directory only: never follow ../ out of it.
    const relative = normalize(pathname).replace(/^([/\\])+/, '')
    const target = resolve(join(root, relative))
    if (target !== root && !target.startsWith(root + sep)) {
      sendJson(res, 403, { error: 'forbidden' })
      return
    }
    void (async () => {
      if (await sendFile(res, target)) return
      // Unknown paths get the app (client-side routing); missing assets stay 404.
      if (extname(target) === '' && await sendFile(res, join(root, 'index.html'))) return
      sendJson(res, 404, { error: 'not found' })
    })().catch(() => {
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' })
      else res.destroy()
    })
  })
  await new Promise<void>((resolveListen, rejectListen) => {
    server.once('error', rejectListen)
    server.listen(init.port, init.host, () => {
      server.off('error', rejectListen)
      resolveListen()
    })
  })
  return server
}

/**
 * A relay listening on 0.0.0.0 announces every interface; put the addresses on the host the
 * page was loaded from first, since that is the one the browser can certainly reach.
 */
export function preferHost (info: BootstrapInfo, hostHeader: string | undefined): BootstrapInfo {
  const host = hostHeader?.replace(/:\d+$/, '').replace(/^\[|\]$/g, '')
  if (host == null || host === '') return info
  const matches = (address: string): boolean => address.includes(`/${host}/`)
  return { ...info, multiaddrs: [...info.multiaddrs.filter(matches), ...info.multiaddrs.filter(address => !matches(address))] }
}

export function serverPort (server: Server): number {
  return (server.address() as AddressInfo).port
}
