import { describe, expect, it } from 'vitest'
import { HELP_REQUESTED, limitEnvName, parseRelayConfig, RELAY_DEFAULTS, RELAY_USAGE } from '../../relay/config.ts'
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
      webrtcDirectPort: 9092,
      dataDir: '.data/relay',
      maxReservations: RELAY_DEFAULTS.maxReservations,
      maxConnections: RELAY_DEFAULTS.maxConnections,
      inboundConnectionsPerSecond: RELAY_DEFAULTS.inboundConnectionsPerSecond,
      maxReservationsPerIp: RELAY_DEFAULTS.maxReservations,
      maxConnectionsPerIp: RELAY_DEFAULTS.maxConnections,
      maxConnectionsPerPeer: RELAY_DEFAULTS.maxConnectionsPerPeer,
      inboundPerMinutePerPeer: RELAY_DEFAULTS.inboundPerMinutePerPeer,
      maxCircuitsPerPeer: RELAY_DEFAULTS.maxCircuitsPerPeer,
      maxCircuitsPerIp: RELAY_DEFAULTS.maxCircuitsPerPeer * RELAY_DEFAULTS.maxReservations,
      bootstrap: [],
      dhtStreams: 'reuse',
      logFormat: 'text',
      replicationIntervalMs: 600_000
    })
    // Per IP, the defaults let every local tab (all from 127.0.0.1) use the whole relay.
    expect(RELAY_DEFAULTS.maxReservationsPerIp).toBe(RELAY_DEFAULTS.maxReservations)
    expect(RELAY_DEFAULTS.maxConnectionsPerIp).toBe(RELAY_DEFAULTS.maxConnections)
    expect(RELAY_DEFAULTS.maxCircuitsPerIp).toBe(RELAY_DEFAULTS.maxCircuitsPerPeer * RELAY_DEFAULTS.maxReservationsPerIp)
  })

  it('reads every flag', () => {
    expect(parsed([
      '--host', '0.0.0.0', '--port', '7000', '--http-port', '7001', '--data-dir', '/tmp/x',
      '--serve', 'dist', '--max-reservations', '5', '--max-connections', '50', '--inbound-per-second', '9',
      '--max-reservations-per-ip', '4', '--max-connections-per-ip', '40', '--max-connections-per-peer', '3',
      '--inbound-per-minute-per-peer', '12', '--max-circuits-per-peer', '6', '--max-circuits-per-ip', '20',
      '--log-format', 'json', '--replicate-interval', '120', '--webrtc-direct-port', '7002'
    ])).toEqual({
      host: '0.0.0.0',
      wsPort: 7000,
      httpPort: 7001,
      webrtcDirectPort: 7002,
      dataDir: '/tmp/x',
      serveDir: 'dist',
      maxReservations: 5,
      maxConnections: 50,
      inboundConnectionsPerSecond: 9,
      maxReservationsPerIp: 4,
      maxConnectionsPerIp: 40,
      maxConnectionsPerPeer: 3,
      inboundPerMinutePerPeer: 12,
      maxCircuitsPerPeer: 6,
      maxCircuitsPerIp: 20,
      bootstrap: [],
      dhtStreams: 'reuse',
      logFormat: 'json',
      replicationIntervalMs: 120_000
    })
  })

  it('reads --replicate-interval in seconds (10-86400) and refuses anything else', () => {
    expect(parsed(['--replicate-interval', '10']).replicationIntervalMs).toBe(10_000)
    expect(parsed(['--replicate-interval', '86400']).replicationIntervalMs).toBe(86_400_000)
    // parseArgs itself refuses a value that looks like an option ('-60'), in its own words.
    expect(configError(['--replicate-interval', '-60']).message).toContain('--replicate-interval')
    for (const bad of ['9', '86401', '1e3', '', 'hourly', '60.5']) {
      expect(configError(['--replicate-interval', bad]).message, bad).toBe(`--replicate-interval must be a number of seconds from 10 to 86400, got "${bad}"`)
    }
  })

  it('listens for WebRTC-Direct by default; reads its port from the flag or WEBKAD_RELAY_WEBRTC_DIRECT_PORT, turns it off, refuses a bad port', () => {
    expect(parsed([]).webrtcDirectPort).toBe(9092)
    expect(parsed(['--webrtc-direct-port', '0']).webrtcDirectPort).toBe(0)
    expect(parsed([], { WEBKAD_RELAY_WEBRTC_DIRECT_PORT: '4001' }).webrtcDirectPort).toBe(4001)
    expect(parsed(['--webrtc-direct-port', '4002'], { WEBKAD_RELAY_WEBRTC_DIRECT_PORT: '4001' }).webrtcDirectPort).toBe(4002)
    expect(parsed(['--no-webrtc-direct']).webrtcDirectPort).toBeUndefined()
    expect(parsed([], { WEBKAD_RELAY_WEBRTC_DIRECT: 'off' }).webrtcDirectPort).toBeUndefined()
    for (const bad of ['abc', '65536', '1.5', '=-1']) {
      const err = bad.startsWith('=') ? configError([`--webrtc-direct-port${bad}`]) : configError(['--webrtc-direct-port', bad])
      expect(err.name).toBe('RelayConfigError')
      expect(err.message).toContain('--webrtc-direct-port must be a port number')
    }
    expect(configError(['--webrtc-direct-port', '9092', '--no-webrtc-direct']).message).toContain('contradict')
    expect(RELAY_USAGE).toContain('--webrtc-direct-port')
  })

  it('reads the log format from the environment too, and refuses unknown values', () => {
    expect(parsed([], { WEBKAD_RELAY_LOG_FORMAT: 'json' }).logFormat).toBe('json')
    expect(parsed(['--log-format', 'text'], { WEBKAD_RELAY_LOG_FORMAT: 'json' }).logFormat).toBe('text')
    expect(configError(['--log-format', 'yaml']).message).toBe('--log-format must be text or json, got "yaml"')
    expect(configError([], { WEBKAD_RELAY_LOG_FORMAT: 'xml' }).message).toContain('--log-format must be text or json')
  })

  it('reads every limit from WEBKAD_RELAY_<FLAG>; the flag wins; an empty variable is unset', () => {
    const env = {
      WEBKAD_RELAY_MAX_RESERVATIONS: '100',
      WEBKAD_RELAY_MAX_CONNECTIONS: '200',
      WEBKAD_RELAY_INBOUND_PER_SECOND: '7',
      WEBKAD_RELAY_MAX_RESERVATIONS_PER_IP: '10',
      WEBKAD_RELAY_MAX_CONNECTIONS_PER_IP: '20',
      WEBKAD_RELAY_MAX_CONNECTIONS_PER_PEER: '2',
      WEBKAD_RELAY_INBOUND_PER_MINUTE_PER_PEER: '6',
      WEBKAD_RELAY_MAX_CIRCUITS_PER_PEER: '4',
      WEBKAD_RELAY_MAX_CIRCUITS_PER_IP: '8'
    }
    expect(parsed([], env)).toMatchObject({
      maxReservations: 100,
      maxConnections: 200,
      inboundConnectionsPerSecond: 7,
      maxReservationsPerIp: 10,
      maxConnectionsPerIp: 20,
      maxConnectionsPerPeer: 2,
      inboundPerMinutePerPeer: 6,
      maxCircuitsPerPeer: 4,
      maxCircuitsPerIp: 8
    })
    expect(parsed(['--max-circuits-per-peer', '9'], env).maxCircuitsPerPeer).toBe(9)
    expect(parsed([], { WEBKAD_RELAY_MAX_CIRCUITS_PER_PEER: '' }).maxCircuitsPerPeer).toBe(RELAY_DEFAULTS.maxCircuitsPerPeer)
    expect(limitEnvName('inbound-per-minute-per-peer')).toBe('WEBKAD_RELAY_INBOUND_PER_MINUTE_PER_PEER')
  })

  it('derives the per-IP limits not given from the ones given', () => {
    // Per-IP reservations and connections follow the relay-wide limits; circuits per IP are the
    // circuits of as many peers as one IP may hold reservations for.
    expect(parsed(['--max-reservations', '15', '--max-connections', '300'])).toMatchObject({
      maxReservationsPerIp: 15,
      maxConnectionsPerIp: 300,
      maxCircuitsPerIp: 15 * RELAY_DEFAULTS.maxCircuitsPerPeer
    })
    expect(parsed(['--max-reservations-per-ip', '8', '--max-circuits-per-peer', '16']).maxCircuitsPerIp).toBe(128)
  })

  it('refuses a per-IP limit above the relay-wide one, in one line naming both', () => {
    const reservations = configError(['--max-reservations', '10', '--max-reservations-per-ip', '11'])
    expect(reservations.name).toBe('RelayConfigError')
    expect(reservations.message).toBe('--max-reservations-per-ip (11) must not exceed --max-reservations (10)')
    // The default relay-wide limit counts too.
    expect(configError(['--max-connections-per-ip', String(RELAY_DEFAULTS.maxConnections + 1)]).message)
      .toContain('--max-connections-per-ip')
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

  it.each([
    '--max-reservations', '--max-connections', '--inbound-per-second', '--max-reservations-per-ip', '--max-connections-per-ip',
    '--max-connections-per-peer', '--inbound-per-minute-per-peer', '--max-circuits-per-peer', '--max-circuits-per-ip'
  ])('refuses a non-positive %s, from the flag or the environment', (flag) => {
    expect(configError([flag, '0']).name).toBe('RelayConfigError')
    expect(configError([flag, '-3']).name).toBe('RelayConfigError')
    expect(configError([flag, 'many']).message).toBe(`${flag} must be a positive integer, got "many"`)
    const env = limitEnvName(flag.slice(2))
    expect(configError([], { [env]: '1.5' }).message).toBe(`${env} must be a positive integer, got "1.5"`)
    expect(RELAY_USAGE).toContain(flag)
  })

  it('returns HELP_REQUESTED for --help, even with bad flags alongside values', () => {
    expect(parseRelayConfig(['--help'])).toBe(HELP_REQUESTED)
    expect(parseRelayConfig(['--port', 'abc', '--help'])).toBe(HELP_REQUESTED)
    expect(RELAY_USAGE).toContain('--port')
  })
})

describe('parseRelayConfig --dht-streams', () => {
  it('reuses DHT streams by default; fresh is the stock baseline; anything else is refused in one line', () => {
    expect(parsed([]).dhtStreams).toBe('reuse')
    expect(parsed(['--dht-streams', 'fresh']).dhtStreams).toBe('fresh')
    expect(parsed(['--dht-streams', 'reuse']).dhtStreams).toBe('reuse')
    for (const bad of ['', 'FRESH', 'yes', '1']) {
      const error = configError(['--dht-streams', bad])
      expect(error.name).toBe('RelayConfigError')
      expect(error.message).toBe(`--dht-streams must be reuse or fresh, got "${bad}"`)
    }
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
