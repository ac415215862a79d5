import { createSocket } from 'node:dgram'
import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join, resolve } from 'node:path'
import { webSockets } from '@libp2p/websockets'
import { multiaddr } from '@multiformats/multiaddr'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { buildRelay, RELAY_BIN } from '../../scripts/build-relay.ts'
import { createWebkadNode } from '../../src/p2p/node.ts'
import { within } from '../helpers/wait.ts'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { LevelDatastore } from 'datastore-level'
import { fromString } from 'uint8arrays'
import { kadInternals, kadRecordKey } from '../../src/p2p/dht/kad-internals.ts'
import { createSignedRecord } from '../../src/p2p/dht/records.ts'
import { waitForReservation } from '../../src/p2p/network/relay-connection.ts'
import { createTestClient, tempDirs } from './helpers.ts'
import type { WebkadNode } from '../../src/p2p/node.ts'
import type { ChildProcess } from 'node:child_process'
import type { AddressInfo, Server } from 'node:net'
import type { Multiaddr } from '@multiformats/multiaddr'

/** The real relay CLI as it ships: compiled to JavaScript (scripts/build-relay.ts), run by plain node. */
const REPO = resolve(import.meta.dirname, '..', '..')
let relayBin = ''

interface RelayProcess {
  child: ChildProcess
  stdout(): string
  stderr(): string
  /** Resolves with the exit code (null when killed by a signal) and the signal. */
  exited: Promise<Exit>
  /** The same, once it happened. */
  exit?: Exit
}

interface Exit { code: number | null, signal: NodeJS.Signals | null }

const running: RelayProcess[] = []
const dirs = tempDirs()
// Inside the checkout, so the compiled relay resolves its (external) packages from node_modules.
const BUILD_ROOT = join(REPO, 'node_modules', '.cache', 'webkad-relay-test')
let buildDir = ''

beforeAll(async () => {
  await mkdir(BUILD_ROOT, { recursive: true })
  buildDir = await mkdtemp(join(BUILD_ROOT, 'build-'))
  relayBin = await buildRelay(buildDir)
})
afterAll(async () => { await rm(buildDir, { recursive: true, force: true }) })

afterEach(async () => {
  for (const relay of running.splice(0)) {
    if (relay.child.exitCode == null && relay.child.signalCode == null) {
      relay.child.kill('SIGKILL')
      await relay.exited
    }
  }
  await dirs.cleanup()
})

function startRelayProcess (args: string[]): RelayProcess {
  // No DEBUG: libp2p's debug logs go to stderr, and these tests check stderr line by line.
  const env = { ...process.env }
  delete env.DEBUG
  // WebRTC-Direct on a free UDP port unless the test says otherwise (9092 would clash between tests).
  const udp = args.some(arg => arg.includes('webrtc-direct')) ? [] : ['--webrtc-direct-port', '0']
  const child = spawn(process.execPath, [relayBin, ...args, ...udp], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => { out += chunk })
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { err += chunk })
  const relay: RelayProcess = {
    child,
    stdout: () => out,
    stderr: () => err,
    exited: new Promise<Exit>((resolveExit) => {
      child.on('exit', (code, signal) => {
        relay.exit = { code, signal }
        resolveExit(relay.exit)
      })
    })
  }
  running.push(relay)
  return relay
}

/** Waits until `stream` of the relay has printed a match of `pattern`; resolves with all of it. */
async function waitForOutput (relay: RelayProcess, pattern: RegExp, stream: 'stdout' | 'stderr' = 'stdout', timeoutMs = 15_000): Promise<string> {
  const seen = await vi.waitFor(() => {
    // A relay that exited prints nothing more: stop polling, and fail below.
    if (relay.exit == null) expect(relay[stream](), `relay ${stream}`).toMatch(pattern)
    return relay[stream]()
  }, within(timeoutMs))
  if (!pattern.test(seen)) throw new Error(`relay exited with ${relay.exit?.code} before printing ${String(pattern)}: ${relay.stderr()}`)
  return seen
}

async function exitWithin (relay: RelayProcess, ms: number): Promise<Exit> {
  return await vi.waitFor(() => {
    if (relay.exit == null) throw new Error(`relay did not exit within ${ms} ms`)
    return relay.exit
  }, within(ms))
}

function lines (text: string): string[] {
  return text.split('\n').filter(line => line.trim() !== '')
}

/** A tab-like node over WebSockets only, with the relay as its bootnode. */
async function offenderOf (relay: Multiaddr): Promise<WebkadNode> {
  return await createWebkadNode({ transports: [webSockets()], listen: [], bootnodes: [relay] })
}

function openConnections (node: WebkadNode): unknown[] {
  return node.getConnections().filter(connection => connection.status === 'open')
}

async function occupiedPort (): Promise<Server> {
  const server = createServer()
  await new Promise<void>((resolveListen, rejectListen) => {
    server.once('error', rejectListen)
    server.listen(0, '127.0.0.1', () => { resolveListen() })
  })
  return server
}

describe('relay CLI', () => {
  it('is plain JavaScript with a shebang, run by package.json bin webkad-relay without a TypeScript loader', async () => {
    const pkg = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { bin: Record<string, string>, scripts: Record<string, string> }
    expect(pkg.bin['webkad-relay']).toBe(`dist-relay/${RELAY_BIN}`)
    expect(pkg.scripts.start).not.toContain('tsx')
    expect(pkg.scripts.relay).not.toContain('tsx')
    expect((await readFile(relayBin, 'utf8')).startsWith('#!/usr/bin/env node\n')).toBe(true)
    const relay = startRelayProcess(['--help'])
    expect(await exitWithin(relay, 10_000)).toEqual({ code: 0, signal: null })
    expect(relay.stdout()).toMatch(/^usage: webkad-relay \[options\]/)
    expect(relay.stdout()).toContain('--data-dir <path>')
  })

  it('starts on free ports, prints its multiaddr and stops cleanly on SIGTERM', async () => {
    const relay = startRelayProcess(['--port', '0', '--http-port', '0', '--data-dir', await dirs.make()])
    const output = await waitForOutput(relay, /bootstrap: http:\/\/127\.0\.0\.1:\d+\/bootstrap/)
    const multiaddrLine = lines(output).find(line => line.includes('multiaddr: /ip4/127.0.0.1/tcp/'))
    expect(multiaddrLine).toBeDefined()
    expect(multiaddrLine).toMatch(/multiaddr: \/ip4\/127\.0\.0\.1\/tcp\/[1-9]\d*\/ws\/p2p\/12D3Koo\w+$/)

    // The HTTP side answers with the same peer ID.
    const httpPort = /bootstrap: http:\/\/127\.0\.0\.1:(\d+)\/bootstrap/.exec(output)?.[1]
    const bootstrap = await (await fetch(`http://127.0.0.1:${httpPort}/bootstrap`)).json() as { peerId: string, multiaddrs: string[] }
    expect(multiaddrLine).toContain(`/p2p/${bootstrap.peerId}`)
    expect(bootstrap.multiaddrs).toContain(multiaddrLine?.split('multiaddr: ')[1])

    relay.child.kill('SIGTERM')
    expect(await exitWithin(relay, 5000)).toEqual({ code: 0, signal: null })
    expect(relay.stderr()).toBe('')
  })

  it('logs one JSON object per line and event with --log-format json, and serves /metrics', async () => {
    const relay = startRelayProcess(['--port', '0', '--http-port', '0', '--data-dir', await dirs.make(), '--log-format', 'json'])
    const output = await waitForOutput(relay, /"event":"listening"/)
    const events = lines(output).map(line => JSON.parse(line) as Record<string, unknown>)
    expect(events).toHaveLength(1)
    const listening = events[0] as { level: string, time: string, peerId: string, multiaddrs: string[], metrics: string }
    expect(listening).toMatchObject({ level: 'info', event: 'listening' })
    expect(Number.isNaN(Date.parse(listening.time))).toBe(false)
    expect(listening.multiaddrs[0]).toMatch(new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/\\d+/ws/p2p/${listening.peerId}$`))
    const metrics = await fetch(listening.metrics)
    expect(metrics.headers.get('content-type')).toContain('text/plain')
    expect(await metrics.text()).toMatch(/^webkad_relay_reservations 0$/m)

    relay.child.kill('SIGTERM')
    expect(await exitWithin(relay, 5000)).toEqual({ code: 0, signal: null })
    const after = lines(relay.stdout()).map(line => JSON.parse(line) as Record<string, unknown>)
    expect(after.map(event => event.event)).toEqual(['listening', 'shutdown'])
    expect(after[1]).toMatchObject({ level: 'info', signal: 'SIGTERM' })
    expect(relay.stderr()).toBe('')
  })

  it('refuses an unknown --log-format in one line with exit code 2', async () => {
    const relay = startRelayProcess(['--port', '0', '--http-port', '0', '--data-dir', await dirs.make(), '--log-format', 'yaml'])
    expect((await exitWithin(relay, 15_000)).code).toBe(2)
    expect(lines(relay.stderr())[0]).toBe('webkad relay: --log-format must be text or json, got "yaml"')
    expect(relay.stderr()).not.toContain('    at ')
    expect(relay.stdout()).toBe('')
  })

  it('loses no record it acknowledged when SIGKILLed during a burst of PUTs, and flushes them on SIGTERM within 5 s', async () => {
    const dataDir = await dirs.make()
    const author = await generateKeyPair('Ed25519')
    const authorId = peerIdFromPrivateKey(author)
    const acknowledged: string[] = []
    /** PUTs to the relay, 8 at a time, until `stop` says so; every key the relay echoed back is kept. */
    const burst = async (address: Multiaddr, prefix: string, stop: () => boolean): Promise<void> => {
      const client = await createTestClient(address)
      try {
        await client.dial(address)
        const relayId = peerIdFromString(address.getComponents().findLast(component => component.name === 'p2p')?.value ?? '')
        await waitForReservation(client, AbortSignal.timeout(10_000))
        const kad = kadInternals(client.services.dht)
        for (let round = 0; !stop() && round < 500; round++) {
          await Promise.all(Array.from({ length: 8 }, async (_, index) => {
            const key = `/webkad/${prefix}-${round}-${index}`
            const value = await createSignedRecord(author, authorId, { key, payload: { type: 'text', text: key }, sequence: 1n })
            if (await kad.putValueTo(relayId, fromString(key), value, { signal: AbortSignal.timeout(5_000) }).catch(() => false)) acknowledged.push(key)
          }))
        }
      } finally {
        await client.stop()
      }
    }
    const missing = async (): Promise<string[]> => {
      const datastore = new LevelDatastore(join(dataDir, 'datastore'))
      await datastore.open()
      try {
        const absent: string[] = []
        for (const key of acknowledged) if (!await datastore.has(kadRecordKey(fromString(key)))) absent.push(key)
        return absent
      } finally {
        await datastore.close()
      }
    }

    const first = startRelayProcess(['--port', '0', '--http-port', '0', '--data-dir', dataDir])
    const address = multiaddr(/multiaddr: (\S+)/.exec(await waitForOutput(first, /multiaddr: \S+/))?.[1] ?? '')
    // SIGKILL once 40 PUTs were acknowledged, while more are in flight.
    const crashed = burst(address, 'kill', () => first.exit != null)
    await vi.waitFor(() => { expect(acknowledged.length).toBeGreaterThanOrEqual(40) }, within(20_000))
    first.child.kill('SIGKILL')
    await crashed
    expect((await first.exited).signal).toBe('SIGKILL')
    const beforeTerm = acknowledged.length
    expect(await missing()).toEqual([])

    const second = startRelayProcess(['--port', '0', '--http-port', '0', '--data-dir', dataDir])
    const again = multiaddr(/multiaddr: (\S+)/.exec(await waitForOutput(second, /multiaddr: \S+/))?.[1] ?? '')
    await burst(again, 'term', () => acknowledged.length >= beforeTerm + 40)
    expect(acknowledged.length).toBeGreaterThan(beforeTerm)
    const termAt = Date.now()
    second.child.kill('SIGTERM')
    expect(await exitWithin(second, 5_000)).toEqual({ code: 0, signal: null })
    expect(Date.now() - termAt).toBeLessThan(5_000)
    expect(await missing()).toEqual([])
  })

  it('reports a port in use in one line, without a stack trace', async () => {
    const blocker = await occupiedPort()
    try {
      const port = (blocker.address() as AddressInfo).port
      const relay = startRelayProcess(['--port', String(port), '--http-port', '0', '--data-dir', await dirs.make()])
      const { code } = await exitWithin(relay, 15_000)
      expect(code).not.toBe(0)
      expect(code).not.toBeNull()
      expect(lines(relay.stderr())).toHaveLength(1)
      expect(relay.stderr()).toContain('already in use')
      expect(relay.stderr()).not.toContain('    at ')
    } finally {
      await new Promise(resolveClose => blocker.close(resolveClose))
    }
  })

  it('reports an HTTP port in use in one line too', async () => {
    const blocker = await occupiedPort()
    try {
      const port = (blocker.address() as AddressInfo).port
      const relay = startRelayProcess(['--port', '0', '--http-port', String(port), '--data-dir', await dirs.make()])
      const { code } = await exitWithin(relay, 15_000)
      expect(code).not.toBe(0)
      expect(lines(relay.stderr())).toHaveLength(1)
      expect(relay.stderr()).toContain('already in use')
      expect(relay.stderr()).not.toContain('    at ')
    } finally {
      await new Promise(resolveClose => blocker.close(resolveClose))
    }
  })

  it('reports a WebRTC-Direct UDP port in use in one line, with no native log lines', async () => {
    const blocker = createSocket('udp4')
    await new Promise<void>(resolveBind => blocker.bind(0, '127.0.0.1', () => { resolveBind() }))
    try {
      const port = blocker.address().port
      const relay = startRelayProcess(['--port', '0', '--http-port', '0', '--webrtc-direct-port', String(port), '--data-dir', await dirs.make()])
      const { code } = await exitWithin(relay, 15_000)
      expect(code).not.toBe(0)
      expect(code).not.toBeNull()
      expect(lines(relay.stderr())).toHaveLength(1)
      expect(relay.stderr()).toContain(`UDP 127.0.0.1:${port} (already in use)`)
      expect(lines(relay.stdout()), 'nothing on stdout either (libdatachannel logs there)').toEqual([])
    } finally {
      await new Promise(resolveClose => blocker.close(() => { resolveClose(undefined) }))
    }
  })

  it('reports an unusable data directory in one line', async () => {
    const file = join(await dirs.make(), 'a-file')
    await writeFile(file, 'x')
    const relay = startRelayProcess(['--port', '0', '--http-port', '0', '--data-dir', join(file, 'relay')])
    const { code } = await exitWithin(relay, 15_000)
    expect(code).not.toBe(0)
    expect(code).not.toBeNull()
    expect(lines(relay.stderr())).toHaveLength(1)
    expect(relay.stderr()).toContain('data directory')
    expect(relay.stderr()).not.toContain('    at ')
  })

  it('refuses a bad flag value without a stack trace', async () => {
    const relay = startRelayProcess(['--port', 'abc'])
    const { code } = await exitWithin(relay, 15_000)
    expect(code).toBe(2)
    expect(relay.stderr()).toContain('--port')
    expect(relay.stderr()).not.toContain('    at ')
  })

  it('prints one line on stderr for an offender however often it hits a limit, and keeps serving', async () => {
    const relay = startRelayProcess(['--port', '0', '--http-port', '0', '--data-dir', await dirs.make(), '--max-connections-per-peer', '1'])
    const output = await waitForOutput(relay, /bootstrap: http:\/\/127\.0\.0\.1:\d+\/bootstrap/)
    expect(output).toContain('per peer 1 connections')
    const address = multiaddr(/multiaddr: (\S+)/.exec(output)?.[1] ?? '')
    const limitLine = (node: WebkadNode): string =>
      `webkad relay: limit reached: ${node.peerId.toString()} (127.0.0.1): at most 1 open connections per peer; refused with the protocol's own answer (logged once per offender)`
    const offender = await offenderOf(address)
    const next = await offenderOf(address)
    try {
      await offender.dial(address)
      // Each extra connection is closed by the relay's gater during its upgrade: wait until the
      // offender sees each one closed, so the relay has handled (and logged, or not) every refusal.
      for (let attempt = 0; attempt < 4; attempt++) {
        await offender.dial(address, { force: true }).catch(() => {})
        await vi.waitFor(() => { expect(openConnections(offender), `attempt ${attempt}: the offender's connections`).toHaveLength(1) }, within(10_000))
      }
      // Another offender's first refusal is printed after anything those four printed (one
      // process, one stderr): once its line is there, the first offender's window has passed.
      await next.dial(address)
      await next.dial(address, { force: true }).catch(() => {})
      await waitForOutput(relay, new RegExp(next.peerId.toString()), 'stderr')
      expect(lines(relay.stderr())).toEqual([limitLine(offender), limitLine(next)])
      // The first connection of each is still served.
      expect(openConnections(offender)).toHaveLength(1)
      expect(openConnections(next)).toHaveLength(1)
      await offender.services.ping.ping(address, { signal: AbortSignal.timeout(10_000) })
      expect(relay.child.exitCode).toBeNull()
    } finally {
      await Promise.all([offender.stop(), next.stop()])
    }
  })
})
