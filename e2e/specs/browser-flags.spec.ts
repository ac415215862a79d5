import { lookup } from 'node:dns/promises'
import { createServer } from 'node:http'
import { hostname, networkInterfaces } from 'node:os'
import { test, expect } from '@playwright/test'
import { DISABLE_FEATURES_ARG, HOST_RESOLVER_RULES_ARG } from '../../test/harness/browser-flags.ts'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * Guards the launch flags the other specs rely on: exactly one --disable-features (Chromium
 * honours only one; a Playwright upgrade that changes its own list would leave two), real IPs in
 * ICE host candidates, and no name resolution beyond loopback.
 */
test('Chromium runs with one combined --disable-features and no mDNS host candidates', async ({ page }) => {
  await page.goto('chrome://version')
  const commandLine = await page.locator('#command_line').textContent() ?? ''
  const argv = commandLine.split(/\s+(?=--)/)

  const disableFeatures = argv.filter(arg => arg.startsWith('--disable-features='))
  expect(disableFeatures, 'update PLAYWRIGHT_DISABLED_FEATURES in test/harness/browser-flags.ts to the list of this Playwright version').toEqual([DISABLE_FEATURES_ARG])
  expect(argv).toContain(HOST_RESOLVER_RULES_ARG)

  await page.goto('about:blank')
  const candidates = await page.evaluate(async () => {
    const pc = new RTCPeerConnection({ iceServers: [] })
    pc.createDataChannel('probe')
    const found: string[] = []
    const done = new Promise<void>((resolve) => {
      pc.onicecandidate = (event) => {
        if (event.candidate == null) resolve()
        else found.push(event.candidate.candidate)
      }
    })
    await pc.setLocalDescription(await pc.createOffer())
    await Promise.race([done, new Promise(resolve => setTimeout(resolve, 5000))])
    pc.close()
    return found
  })
  expect(candidates.length, 'ICE host candidates gathered').toBeGreaterThan(0)
  expect(candidates.filter(candidate => candidate.includes('.local')), 'mDNS-obfuscated candidates').toEqual([])
})

/** What the probe server answers, so a page that shows it is known to have reached it. */
const PROBE_TEXT = 'webkad host-resolver probe'

/** A local address: loopback or one of this machine's interfaces. */
function isLocalAddress (address: string): boolean {
  if (address === '::1' || address.startsWith('127.')) return true
  return Object.values(networkInterfaces()).some(entries => entries?.some(entry => entry.address === address))
}

/**
 * A host name that the OS resolver (getaddrinfo: /etc/hosts, then DNS) maps to this machine and
 * that the --host-resolver-rules do not exempt: this machine's own hostname (Debian lists it in
 * /etc/hosts), else a loopback alias from /etc/hosts. No network is needed to resolve it, so
 * Chromium would reach it on an offline machine too, if its rules let it.
 */
async function nameTheSystemResolvesHere (): Promise<{ name: string, address: string }> {
  const candidates = [hostname(), 'localhost.localdomain', 'ip6-localhost', 'ip6-loopback']
    // Exempted by the rules, or resolved by Chromium itself without asking the OS (*.localhost).
    .filter(name => name !== '' && name !== 'localhost' && !name.endsWith('.localhost') && !/^[\d.]+$/.test(name))
  for (const name of candidates) {
    const found = await lookup(name).catch(() => undefined)
    if (found != null && isLocalAddress(found.address)) return { name, address: found.address }
  }
  throw new Error(`none of ${candidates.join(', ')} resolves to this machine: add "127.0.0.1 ${hostname()}" to /etc/hosts`)
}

async function listen (server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => { server.off('error', reject); resolve() })
  })
  return (server.address() as AddressInfo).port
}

/**
 * The rules' honest test: a page on 127.0.0.1 and on localhost is reachable, while a name that
 * the OS resolves to the very same server is refused by Chromium before any connection is made.
 * Without the flag the last navigation succeeds (the name is proven reachable from Node first),
 * so this fails on any machine, online or not.
 */
test('the browser resolves no host names beyond loopback, not even one the OS maps to this machine', async ({ page }) => {
  const target = await nameTheSystemResolvesHere()
  const hostsSeen: string[] = []
  const handler = (request: IncomingMessage, response: ServerResponse): void => {
    hostsSeen.push(request.headers.host ?? '')
    response.end(PROBE_TEXT)
  }
  const servers = [createServer(handler)]
  try {
    const port = await listen(servers[0] as Server, 0, '127.0.0.1')
    // The name may map to another local address (e.g. 127.0.1.1): serve there too, same port.
    if (target.address !== '127.0.0.1') {
      servers.push(createServer(handler))
      await listen(servers[1] as Server, port, target.address)
    }
    const url = (host: string): string => `http://${host}:${port}/`

    // Control, outside Chromium: the OS resolves the name and the server answers on it.
    const fromNode = await fetch(url(target.name), { signal: AbortSignal.timeout(5000) })
    expect(await fromNode.text(), `Node reaches ${url(target.name)} (${target.name} → ${target.address})`).toBe(PROBE_TEXT)
    hostsSeen.length = 0

    for (const host of ['127.0.0.1', 'localhost']) {
      await page.goto(url(host))
      await expect(page.locator('body'), `Chromium reaches ${url(host)}`).toHaveText(PROBE_TEXT)
    }

    const refused = await page.goto(url(target.name)).then(() => 'loaded', (err: Error) => err.message)
    expect(refused, `Chromium must not resolve ${target.name} (the OS maps it to ${target.address})`).toContain('net::ERR_NAME_NOT_RESOLVED')
    expect(hostsSeen, 'Host headers of the requests the probe server got from Chromium').toContain(`127.0.0.1:${port}`)
    expect(hostsSeen, 'Host headers of the requests the probe server got from Chromium').toContain(`localhost:${port}`)
    expect(hostsSeen.filter(host => host.startsWith(`${target.name}:`)), `requests that reached the server as ${target.name}`).toEqual([])
  } finally {
    await Promise.all(servers.map(async server => { await new Promise<void>(resolve => { server.close(() => { resolve() }) }) }))
  }
})
