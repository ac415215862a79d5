import { describe, expect, it } from 'vitest'
import { HELP_REQUESTED, parseRelayConfig, RELAY_DEFAULTS, RELAY_USAGE } from '../../relay/config.ts'
import type { RelayConfig } from '../../relay/config.ts'

function parsed (argv: string[], env: NodeJS.ProcessEnv = {}): RelayConfig {
  const config = parseRelayConfig(argv, env)
  if (config === HELP_REQUESTED) throw new Error('unexpected --help')
  return config
}

function configError (argv: string[], env: NodeJS.ProcessEnv = {}): Error {
  try {
    parseRelayConfig(argv, env)
  } catch (err) {
    return err as Error
  }
  throw new Error(`expected ${JSON.stringify(argv)} to be refused`)
}

describe('parseRelayConfig', () => {
  it('uses the defaults without flags or environment', () => {
    expect(parsed([])).toEqual({
      host: '127.0.0.1',
      wsPort: 9090,
      httpPort: 9091,
      dataDir: '.data/relay',
      maxReservations: RELAY_DEFAULTS.maxReservations,
      maxConnections: RELAY_DEFAULTS.maxConnections,
      inboundConnectionsPerSecond: RELAY_DEFAULTS.inboundConnectionsPerSecond,
      bootstrap: []
    })
  })

  it('reads every flag', () => {
    expect(parsed([
      '--host', '0.0.0.0', '--port', '7000', '--http-port', '7001', '--data-dir', '/tmp/x',
      '--serve', 'dist', '--max-reservations', '5', '--max-connections', '50', '--inbound-per-second', '9'
    ])).toEqual({
      host: '0.0.0.0',
      wsPort: 7000,
      httpPort: 7001,
      dataDir: '/tmp/x',
      serveDir: 'dist',
      maxReservations: 5,
      maxConnections: 50,
      inboundConnectionsPerSecond: 9,
      bootstrap: []
    })
  })

  it('takes the environment over the defaults', () => {
    const config = parsed([], {
      WEBKAD_RELAY_HOST: '0.0.0.0',
      WEBKAD_RELAY_PORT: '8000',
      WEBKAD_HTTP_PORT: '8001',
      WEBKAD_DATA_DIR: '/var/webkad',
      WEBKAD_SERVE: 'dist'
    })
    expect(config).toMatchObject({ host: '0.0.0.0', wsPort: 8000, httpPort: 8001, dataDir: '/var/webkad', serveDir: 'dist' })
  })

  it('takes flags over the environment', () => {
    const config = parsed(['--host', '::1', '--port', '7000', '--http-port', '7001', '--data-dir', 'flag-dir', '--serve', 'flag-dist'], {
      WEBKAD_RELAY_HOST: '0.0.0.0',
      WEBKAD_RELAY_PORT: '8000',
      WEBKAD_HTTP_PORT: '8001',
      WEBKAD_DATA_DIR: 'env-dir',
      WEBKAD_SERVE: 'env-dist'
    })
    expect(config).toMatchObject({ host: '::1', wsPort: 7000, httpPort: 7001, dataDir: 'flag-dir', serveDir: 'flag-dist' })
  })

  it('does not serve an app unless asked', () => {
    expect(parsed([])).not.toHaveProperty('serveDir')
    expect(parsed([], { WEBKAD_SERVE: '' })).not.toHaveProperty('serveDir')
  })

  it('accepts port 0 for both listeners (free ports)', () => {
    expect(parsed(['--port', '0', '--http-port', '0'])).toMatchObject({ wsPort: 0, httpPort: 0 })
  })

  it.each(['abc', '70000', '-1', '1.5', '', ' ', '0x50', '65536'])('refuses the port %j', (port) => {
    for (const argv of [['--port', port], ['--http-port', port]]) {
      const err = configError(argv)
      expect(err.name).toBe('RelayConfigError')
      expect(err.message).not.toBe('')
    }
    expect(configError([], { WEBKAD_RELAY_PORT: port }).name).toBe('RelayConfigError')
  })

  it('accepts the port bounds', () => {
    expect(parsed(['--port', '65535', '--http-port', '1'])).toMatchObject({ wsPort: 65535, httpPort: 1 })
  })

  it('refuses the same non-zero port for WebSocket and HTTP', () => {
    expect(configError(['--port', '7000', '--http-port', '7000']).name).toBe('RelayConfigError')
    // The defaults collide with an HTTP port set to the WebSocket default too.
    expect(configError(['--http-port', '9090']).name).toBe('RelayConfigError')
  })

  it('refuses an unknown flag and a positional argument', () => {
    const unknown = configError(['--prot', '9090'])
    expect(unknown.name).toBe('RelayConfigError')
    expect(unknown.message).not.toBe('')
    expect(unknown.message).not.toContain('\n')
    expect(configError(['serve']).name).toBe('RelayConfigError')
  })

  it('refuses a flag that is missing its value', () => {
    expect(configError(['--port']).name).toBe('RelayConfigError')
  })

  it('refuses an empty data directory from a flag or the environment', () => {
    expect(configError(['--data-dir', '']).name).toBe('RelayConfigError')
    expect(configError(['--data-dir', '   ']).name).toBe('RelayConfigError')
    expect(configError([], { WEBKAD_DATA_DIR: '' }).name).toBe('RelayConfigError')
  })

  it('refuses a host with characters no address has', () => {
    expect(configError(['--host', 'a b']).name).toBe('RelayConfigError')
    expect(configError(['--host', '1.2.3.4/tcp']).name).toBe('RelayConfigError')
  })

  it.each(['--max-reservations', '--max-connections', '--inbound-per-second'])('refuses a non-positive %s', (flag) => {
    expect(configError([flag, '0']).name).toBe('RelayConfigError')
    expect(configError([flag, '-3']).name).toBe('RelayConfigError')
    expect(configError([flag, 'many']).name).toBe('RelayConfigError')
  })

  it('returns HELP_REQUESTED for --help, even with bad flags alongside values', () => {
    expect(parseRelayConfig(['--help'])).toBe(HELP_REQUESTED)
    expect(parseRelayConfig(['--port', 'abc', '--help'])).toBe(HELP_REQUESTED)
    expect(RELAY_USAGE).toContain('--port')
  })
})

describe('parseRelayConfig --bootstrap', () => {
  const other = '/ip4/127.0.0.1/tcp/9190/ws/p2p/12D3KooWDKjMHWT8Nm6PomXV1jwsjVQnFs3zLvKo5hMwt1EqsyTS'
  const third = '/ip4/127.0.0.1/tcp/9290/ws/p2p/12D3KooWL38t2Lvbb2JDN4cxJKzzotY3kE5WEgVWp2BLLB1pVG6i'

  it('is empty by default and repeatable as a flag', () => {
    expect((parseRelayConfig([]) as RelayConfig).bootstrap).toEqual([])
    expect((parseRelayConfig(['--bootstrap', other, '--bootstrap', third]) as RelayConfig).bootstrap).toEqual([other, third])
  })

  it('reads a comma-separated list from WEBKAD_RELAY_BOOTSTRAP; the flag wins', () => {
    expect((parseRelayConfig([], { WEBKAD_RELAY_BOOTSTRAP: `${other}, ${third}` }) as RelayConfig).bootstrap).toEqual([other, third])
    expect((parseRelayConfig(['--bootstrap', third], { WEBKAD_RELAY_BOOTSTRAP: other }) as RelayConfig).bootstrap).toEqual([third])
  })

  it.each(['not-a-multiaddr', '/ip4/127.0.0.1/tcp/9190/ws'])('refuses %s', (value) => {
    expect(() => parseRelayConfig(['--bootstrap', value])).toThrow(expect.objectContaining({ name: 'RelayConfigError' }))
  })
})
