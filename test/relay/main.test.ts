import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join, resolve } from 'node:path'
import { identify } from '@libp2p/identify'
import { noise } from '@libp2p/noise'
import { webSockets } from '@libp2p/websockets'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import { tempDirs } from './helpers.ts'
import type { ChildProcess } from 'node:child_process'
import type { AddressInfo, Server } from 'node:net'

/** The real relay CLI, started the way `npm run relay` starts it. */
const REPO = resolve(import.meta.dirname, '..', '..')
const RELAY_ARGS = ['--import', 'tsx', '--import', './relay/node20-polyfills.ts', 'relay/main.ts']

interface RelayProcess {
  child: ChildProcess
  stdout(): string
  stderr(): string
  /** Resolves with the exit code (null when killed by a signal) and the signal. */
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
}

const running: RelayProcess[] = []
const dirs = tempDirs()

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
  const child = spawn(process.execPath, [...RELAY_ARGS, ...args], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => { out += chunk })
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { err += chunk })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolveExit) => {
    child.on('exit', (code, signal) => { resolveExit({ code, signal }) })
  })
  const relay = { child, stdout: () => out, stderr: () => err, exited }
  running.push(relay)
  return relay
}

async function waitForOutput (relay: RelayProcess, pattern: RegExp, timeoutMs = 15_000): Promise<string> {
  const deadline = Date.now() + timeoutMs
  while (!pattern.test(relay.stdout())) {
    if (relay.child.exitCode != null) throw new Error(`relay exited with ${relay.child.exitCode}: ${relay.stderr()}`)
    if (Date.now() > deadline) throw new Error(`relay printed no ${String(pattern)} in ${timeoutMs} ms:\n${relay.stdout()}\n${relay.stderr()}`)
    await new Promise(resolveWait => setTimeout(resolveWait, 50))
  }
  return relay.stdout()
}

async function exitWithin (relay: RelayProcess, ms: number): Promise<{ code: number | null, signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => { reject(new Error(`relay did not exit within ${ms} ms`)) }, ms)
  })
  try {
    return await Promise.race([relay.exited, timeout])
  } finally {
    clearTimeout(timer)
  }
}

function lines (text: string): string[] {
  return text.split('\n').filter(line => line.trim() !== '')
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
    const node = await createLibp2p({
      transports: [webSockets()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionGater: { denyDialMultiaddr: () => false },
      services: { identify: identify() }
    })
    try {
      await node.dial(address)
      // Each extra connection is closed by the relay's gater during its upgrade.
      for (let attempt = 0; attempt < 4; attempt++) await node.dial(address, { force: true }).catch(() => {})
      const deadline = Date.now() + 10_000
      while (!relay.stderr().includes('limit reached') && Date.now() < deadline) await new Promise(resolveWait => setTimeout(resolveWait, 50))
      await new Promise(resolveWait => setTimeout(resolveWait, 500))
      expect(lines(relay.stderr())).toEqual([
        `webkad relay: limit reached: ${node.peerId.toString()} (127.0.0.1): at most 1 open connections per peer; refused with the protocol's own answer (logged once per offender)`
      ])
      // The first connection is still served.
      expect(node.getConnections().filter(connection => connection.status === 'open')).toHaveLength(1)
      expect(relay.child.exitCode).toBeNull()
    } finally {
      await node.stop()
    }
  })
})
