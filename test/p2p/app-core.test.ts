import { describe, expect, it } from 'vitest'
import { readAppConfig } from '../../src/p2p/app-core.ts'

describe('readAppConfig (the page URL flags)', () => {
  it('defaults: no ICE servers, WebRTC on, 8 direct connections, scheduler on, DHT streams reused', () => {
    expect(readAppConfig('')).toEqual({ iceServers: [], webrtc: true, maxDirectConnections: 8, scheduler: true, reuseDhtStreams: true })
  })

  it('reads every flag', () => {
    expect(readAppConfig('?ice=stun:a:3478,turn:b:3478&webrtc=off&direct=3&scheduler=off&dhtStreams=fresh')).toEqual({
      iceServers: [{ urls: 'stun:a:3478' }, { urls: 'turn:b:3478' }], webrtc: false, maxDirectConnections: 3, scheduler: false, reuseDhtStreams: false
    })
  })

  it('falls back to the default for values it does not know', () => {
    const config = readAppConfig('?direct=-1&dhtStreams=FRESH&webrtc=no&scheduler=0')
    expect(config).toMatchObject({ maxDirectConnections: 8, reuseDhtStreams: true, webrtc: true, scheduler: true })
    expect(readAppConfig('?direct=1e9').maxDirectConnections).toBe(8)
    expect(readAppConfig('?direct=2.5').maxDirectConnections).toBe(8)
  })

  it('?k= (2-20) sets the bucket size and ?replicate= (10-86400 s) the replication interval; anything else is ignored', () => {
    expect(readAppConfig('?k=2&replicate=10')).toMatchObject({ bucketSize: 2, replicationIntervalMs: 10_000 })
    expect(readAppConfig('?k=20&replicate=86400')).toMatchObject({ bucketSize: 20, replicationIntervalMs: 86_400_000 })
    for (const bad of ['?k=1', '?k=21', '?k=2.5', '?k=abc', '?k=', '?k=1e1&replicate=9', '?replicate=-5', '?replicate=86401', '?replicate=NaN', '?replicate=Infinity']) {
      const config = readAppConfig(bad)
      expect(config.bucketSize, bad).toBeUndefined()
      expect(config.replicationIntervalMs, bad).toBeUndefined()
    }
  })
})
