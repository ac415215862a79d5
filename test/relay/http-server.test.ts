import { mkdir, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { connect } from 'node:net'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { preferHost, serverPort, startRelayHttpServer } from '../../relay/http-server.ts'
import { tempDirs } from './helpers.ts'
import type { BootstrapInfo } from '../../relay/http-server.ts'
import type { IncomingHttpHeaders, Server } from 'node:http'

const INFO: BootstrapInfo = {
  peerId: '12D3KooWBVE9ojmwUbpziqVfRgQaZkaYYFEMfWZx6JPLUNDGqsrL',
  multiaddrs: ['/ip4/127.0.0.1/tcp/9090/ws/p2p/12D3KooWBVE9ojmwUbpziqVfRgQaZkaYYFEMfWZx6JPLUNDGqsrL']
}
const INDEX_HTML = '<!doctype html><title>webkad test app</title>'
const ASSET_JS = 'console.log("asset")'

interface Reply { status: number, headers: IncomingHttpHeaders, body: string }

/** A raw request: the path goes on the wire exactly as given (fetch would normalise it). */
async function send (port: number, path: string, method = 'GET', headers: Record<string, string> = {}): Promise<Reply> {
  return await new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { body += chunk })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body }) })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

/** The status line for a request line Node's http client refuses to send. */
async function sendRawRequestLine (port: number, target: string): Promise<string> {
  return await new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`)
    })
    let data = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => { data += chunk })
    socket.on('error', reject)
    socket.on('close', () => { resolve(data.split('\r\n')[0] ?? '') })
  })
}

const dirs = tempDirs()
let server: Server | undefined
let port = 0

afterEach(async () => {
  if (server != null) {
    server.closeAllConnections()
    await new Promise(resolve => server?.close(resolve))
    server = undefined
  }
  await dirs.cleanup()
})

describe('relay HTTP server without an app directory', () => {
  beforeEach(async () => {
    server = await startRelayHttpServer({ host: '127.0.0.1', port: 0, bootstrapInfo: () => INFO })
    port = serverPort(server)
  })

  it('listens on a free port when asked for port 0', () => {
    expect(port).toBeGreaterThan(0)
  })

  it('answers GET /bootstrap with the relay info as JSON, readable cross-origin', async () => {
    const reply = await send(port, '/bootstrap', 'GET', { origin: 'http://localhost:5173' })
    expect(reply.status).toBe(200)
    expect(reply.headers['content-type']).toMatch(/^application\/json/)
    expect(reply.headers['access-control-allow-origin']).toBe('*')
    expect(JSON.parse(reply.body)).toEqual(INFO)
  })

  it('answers the CORS preflight', async () => {
    const reply = await send(port, '/bootstrap', 'OPTIONS')
    expect(reply.status).toBe(204)
    expect(reply.headers['access-control-allow-origin']).toBe('*')
  })

  it('refuses other methods with 405', async () => {
    expect((await send(port, '/bootstrap', 'POST')).status).toBe(405)
    expect((await send(port, '/', 'DELETE')).status).toBe(405)
  })

  it('has nothing else to serve', async () => {
    expect((await send(port, '/')).status).toBe(404)
    expect((await send(port, '/index.html')).status).toBe(404)
  })

  it('answers a request target that is not a URL with 400 and keeps running', async () => {
    expect(await sendRawRequestLine(port, 'http://[')).toMatch(/^HTTP\/1\.1 400 /)
    expect((await send(port, '/bootstrap')).status).toBe(200)
  })
})

describe('relay HTTP server with an app directory', () => {
  let outside = ''

  beforeEach(async () => {
    const base = await dirs.make()
    const app = join(base, 'app')
    await mkdir(join(app, 'assets'), { recursive: true })
    await writeFile(join(app, 'index.html'), INDEX_HTML)
    await writeFile(join(app, 'assets', 'a.js'), ASSET_JS)
    // A secret next to the served directory: reachable only by escaping it.
    outside = 'SECRET-OUTSIDE-THE-APP'
    await writeFile(join(base, 'secret.txt'), outside)
    server = await startRelayHttpServer({ host: '127.0.0.1', port: 0, serveDir: app, bootstrapInfo: () => INFO })
    port = serverPort(server)
  })

  it('serves index.html at / and assets with their content types', async () => {
    const index = await send(port, '/')
    expect(index.status).toBe(200)
    expect(index.headers['content-type']).toMatch(/^text\/html/)
    expect(index.body).toBe(INDEX_HTML)

    const asset = await send(port, '/assets/a.js')
    expect(asset.status).toBe(200)
    expect(asset.headers['content-type']).toMatch(/^text\/javascript/)
    expect(asset.body).toBe(ASSET_JS)
    expect(asset.headers['cache-control']).toContain('immutable')
  })

  it('still answers /bootstrap', async () => {
    expect(JSON.parse((await send(port, '/bootstrap')).body)).toEqual(INFO)
  })

  it('serves the app for unknown extension-less paths (client-side routes)', async () => {
    const reply = await send(port, '/some/route')
    expect(reply.status).toBe(200)
    expect(reply.body).toBe(INDEX_HTML)
  })

  it('answers 404 for a missing asset', async () => {
    const reply = await send(port, '/assets/missing.js')
    expect(reply.status).toBe(404)
    expect(reply.body).not.toContain('<!doctype')
  })

  it.each([
    '/%2e%2e/secret.txt',
    '/%2e%2e/%2e%2e/etc/passwd',
    '/..%2fsecret.txt',
    '/..%2f..%2fetc%2fpasswd',
    '/assets/..%2f..%2fsecret.txt',
    '/assets/%2e%2e%2f%2e%2e%2fsecret.txt',
    '/..%5csecret.txt',
    '/../secret.txt',
    '/%2fetc%2fpasswd'
  ])('never serves a file outside the directory for %s', async (path) => {
    const reply = await send(port, path)
    expect(reply.body).not.toContain(outside)
    expect(reply.body).not.toMatch(/root:.*:0:0:/)
    // Either refused, not found, or the app itself.
    if (reply.status === 200) expect(reply.body).toBe(INDEX_HTML)
    else expect([400, 403, 404]).toContain(reply.status)
  })

  it('answers a malformed escape with 400 and keeps running', async () => {
    expect((await send(port, '/%ff')).status).toBe(400)
    expect((await send(port, '/assets/%E0%A4%A.js')).status).toBe(400)
    expect((await send(port, '/assets/a.js')).status).toBe(200)
  })

  it('refuses POST with 405', async () => {
    expect((await send(port, '/index.html', 'POST')).status).toBe(405)
  })
})

describe('preferHost', () => {
  const info: BootstrapInfo = {
    peerId: INFO.peerId,
    multiaddrs: [
      `/ip4/127.0.0.1/tcp/9090/ws/p2p/${INFO.peerId}`,
      `/ip4/192.168.1.20/tcp/9090/ws/p2p/${INFO.peerId}`,
      `/ip6/::1/tcp/9090/ws/p2p/${INFO.peerId}`
    ]
  }

  it('puts the addresses on the page\'s host first, keeping the others', () => {
    expect(preferHost(info, '192.168.1.20:9091').multiaddrs).toEqual([info.multiaddrs[1], info.multiaddrs[0], info.multiaddrs[2]])
    expect(preferHost(info, '[::1]:9091').multiaddrs).toEqual([info.multiaddrs[2], info.multiaddrs[0], info.multiaddrs[1]])
  })

  it('keeps the order for an unknown or missing host', () => {
    expect(preferHost(info, 'example.com').multiaddrs).toEqual(info.multiaddrs)
    expect(preferHost(info, undefined)).toEqual(info)
  })

  it('does not match a host that is only a prefix of an address', () => {
    expect(preferHost(info, '192.168.1.2:9091').multiaddrs).toEqual(info.multiaddrs)
  })
})
