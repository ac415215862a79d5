import { describe, expect, it } from 'vitest'
import { describeLimitHit, ipGroup, OffenderLog, RelayLimits } from '../../relay/limits.ts'
import type { LimitHit, RelayLimitSettings } from '../../relay/limits.ts'

const SETTINGS: RelayLimitSettings = {
  maxConnectionsPerIp: 3,
  maxConnectionsPerPeer: 2,
  inboundPerMinutePerPeer: 4,
  maxReservationsPerIp: 2,
  maxCircuitsPerPeer: 2,
  maxCircuitsPerIp: 3
}

/** RelayLimits on a hand-driven clock, collecting what it reports. */
function limitsWith (settings: Partial<RelayLimitSettings> = {}, init: { maxTracked?: number } = {}): { limits: RelayLimits, hits: LimitHit[], clock: { now: number } } {
  const hits: LimitHit[] = []
  const clock = { now: 1_000_000 }
  const limits = new RelayLimits({ ...SETTINGS, ...settings }, { onFirstHit: hit => { hits.push(hit) }, now: () => clock.now, ...init })
  return { limits, hits, clock }
}

describe('ipGroup', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['203.0.113.9', '203.0.113.9'],
    ['::ffff:127.0.0.1', '127.0.0.1'],
    ['0:0:0:0:0:ffff:10.1.2.3', '10.1.2.3'],
    ['::1', '0:0:0:0::/64'],
    ['2001:db8:85a3:8d3:1319:8a2e:370:7348', '2001:db8:85a3:8d3::/64'],
    ['2001:DB8:85A3:08D3::1', '2001:db8:85a3:8d3::/64'],
    ['2001:db8::', '2001:db8:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64']
  ])('groups %s as %s', (address, group) => {
    expect(ipGroup(address)).toBe(group)
  })

  it('puts every address of one IPv6 /64 in one group, and other /64s apart', () => {
    expect(ipGroup('2001:db8:1:2::a')).toBe(ipGroup('2001:db8:1:2:ffff:ffff:ffff:ffff'))
    expect(ipGroup('2001:db8:1:2::a')).not.toBe(ipGroup('2001:db8:1:3::a'))
  })
})

describe('OffenderLog', () => {
  it('says first once per offender and limit, again after the quiet period, in bounded memory', () => {
    let now = 0
    const log = new OffenderLog(2, 60_000, () => now)
    expect(log.firstHit('circuits-per-peer', 'a')).toBe(true)
    expect(log.firstHit('circuits-per-peer', 'a')).toBe(false)
    expect(log.firstHit('connections-per-peer', 'a')).toBe(true)
    now += 59_999
    expect(log.firstHit('circuits-per-peer', 'a')).toBe(false)
    now += 1
    expect(log.firstHit('circuits-per-peer', 'a')).toBe(true)
    for (let index = 0; index < 100; index++) log.firstHit('circuits-per-peer', `flood-${index}`)
    expect(log.size).toBe(2)
  })
})

describe('RelayLimits', () => {
  it('refuses an inbound connection once its IP has the maximum open, and reports the IP once', () => {
    const { limits, hits } = limitsWith()
    expect(limits.refuseInboundConnection('127.0.0.1', 2)).toBeUndefined()
    expect(limits.refuseInboundConnection('127.0.0.1', 3)).toBe('connections-per-ip')
    expect(limits.refuseInboundConnection('127.0.0.1', 7)).toBe('connections-per-ip')
    expect(limits.refuseInboundConnection('10.0.0.1', 0)).toBeUndefined()
    expect(hits).toEqual([{ limit: 'connections-per-ip', max: 3, offender: '127.0.0.1' }])
  })

  it('refuses a peer over its open connections or its connection rate, each reported once', () => {
    const { limits, hits, clock } = limitsWith()
    expect(limits.refuseInboundPeer('mallory', '127.0.0.1', 2)).toBe('connections-per-peer')
    // A refusal by count uses up none of the rate: four connections still pass.
    for (let index = 0; index < 4; index++) expect(limits.refuseInboundPeer('mallory', '127.0.0.1', 0)).toBeUndefined()
    for (let index = 0; index < 10; index++) expect(limits.refuseInboundPeer('mallory', '127.0.0.1', 0)).toBe('inbound-rate-per-peer')
    expect(limits.refuseInboundPeer('mallory', '127.0.0.1', 5)).toBe('connections-per-peer')
    // Others from the same IP are not affected.
    expect(limits.refuseInboundPeer('alice', '127.0.0.1', 1)).toBeUndefined()
    clock.now += 15_000 // 4 per minute: one every 15 s
    expect(limits.refuseInboundPeer('mallory', '127.0.0.1', 0)).toBeUndefined()
    expect(hits).toEqual([
      { limit: 'connections-per-peer', max: 2, offender: 'mallory', ip: '127.0.0.1' },
      { limit: 'inbound-rate-per-peer', max: 4, offender: 'mallory', ip: '127.0.0.1' }
    ])
  })

  it('refuses a new reservation once the IP holds the maximum, but never a renewal', () => {
    const { limits, hits } = limitsWith()
    expect(limits.refuseReservation('alice', '127.0.0.1', 1, false)).toBeUndefined()
    expect(limits.refuseReservation('mallory-1', '127.0.0.1', 2, false)).toBe('reservations-per-ip')
    expect(limits.refuseReservation('mallory-2', '127.0.0.1', 2, false)).toBe('reservations-per-ip')
    // A peer that holds one renews it whatever its IP holds.
    expect(limits.refuseReservation('alice', '127.0.0.1', 2, true)).toBeUndefined()
    expect(limits.refuseReservation('bob', '10.0.0.2', 0, false)).toBeUndefined()
    // No IP (not an IP address): nothing to count by.
    expect(limits.refuseReservation('carol', undefined, 99, false)).toBeUndefined()
    expect(hits).toEqual([{ limit: 'reservations-per-ip', max: 2, offender: '127.0.0.1' }])
  })

  it('refuses a circuit when the source, its IP or the destination is at the maximum, naming that one', () => {
    const { limits, hits } = limitsWith()
    const request = { source: 's', sourceIp: '10.0.0.1', sourceCircuits: 0, sourceIpCircuits: 0, destination: 'd', destinationIp: '10.0.0.2', destinationCircuits: 0 }
    expect(limits.refuseCircuit(request)).toBeUndefined()
    expect(limits.refuseCircuit({ ...request, sourceCircuits: 1, sourceIpCircuits: 2, destinationCircuits: 1 })).toBeUndefined()
    expect(limits.refuseCircuit({ ...request, sourceCircuits: 2 })).toBe('circuits-per-peer')
    expect(limits.refuseCircuit({ ...request, sourceIpCircuits: 3 })).toBe('circuits-per-ip')
    expect(limits.refuseCircuit({ ...request, destinationCircuits: 2 })).toBe('circuits-per-peer')
    expect(limits.refuseCircuit({ ...request, destinationCircuits: 2 })).toBe('circuits-per-peer')
    expect(hits).toEqual([
      { limit: 'circuits-per-peer', max: 2, offender: 's', ip: '10.0.0.1' },
      { limit: 'circuits-per-ip', max: 3, offender: '10.0.0.1' },
      { limit: 'circuits-per-peer', max: 2, offender: 'd', ip: '10.0.0.2' }
    ])
  })

  it('reports many offenders in bounded memory and says so in one line', () => {
    const { limits, hits } = limitsWith({}, { maxTracked: 10 })
    for (let round = 0; round < 2; round++) {
      for (let index = 0; index < 5; index++) limits.refuseInboundConnection(`10.0.0.${index}`, 3)
    }
    expect(hits).toHaveLength(5)
    const line = describeLimitHit({ limit: 'reservations-per-ip', max: 2, offender: '127.0.0.1' })
    expect(line).toContain('127.0.0.1')
    expect(line).toContain('at most 2 reservations per IP')
    expect(line).not.toContain('\n')
    expect(describeLimitHit({ limit: 'circuits-per-peer', max: 64, offender: '12D3KooW…', ip: '127.0.0.1' })).toContain('12D3KooW… (127.0.0.1): at most 64 circuits per peer')
  })
})
