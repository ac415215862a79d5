/**
 * The relay's per-peer and per-IP limits, as plain decisions on counts the caller reads from
 * libp2p (open connections, reservations, circuit streams). No libp2p here: relay-node.ts
 * wires each check into the place where the library lets it answer with the protocol's own
 * refusal (connection gater, the reservation store, the HOP CONNECT handler).
 */

import { TokenBuckets } from '../src/p2p/token-buckets.ts'

/** Which limit refused a request. */
export type LimitName =
  | 'connections-per-ip'
  | 'connections-per-peer'
  | 'inbound-rate-per-peer'
  | 'reservations-per-ip'
  | 'circuits-per-peer'
  | 'circuits-per-ip'

export interface RelayLimitSettings {
  /** Open connections from one IP (IPv6: one /64). */
  maxConnectionsPerIp: number
  /** Open connections from one peer. */
  maxConnectionsPerPeer: number
  /** Inbound connections one peer may open per minute (bursts up to the same number). */
  inboundPerMinutePerPeer: number
  /** Reservations held by peers connected from one IP. */
  maxReservationsPerIp: number
  /** Circuits one peer takes part in at once, as source or destination. */
  maxCircuitsPerPeer: number
  /** Circuits opened from one IP at once. */
  maxCircuitsPerIp: number
}

/** The first time an offender hits a limit (reported once, see `RelayLimits`). */
export interface LimitHit {
  limit: LimitName
  max: number
  /** A peer ID, or an IP group (an IPv4 address, an IPv6 /64) for the per-IP limits. */
  offender: string
  /** The offender's IP group, when the offender is a peer and its address is known. */
  ip?: string
}

export interface RelayLimitsInit {
  /** Called the first time a given offender hits a given limit, not on every refusal. */
  onFirstHit(hit: LimitHit): void
  /** Called on every refusal (the metrics count them). */
  onRefusal?(limit: LimitName): void
  now?(): number
  /** Offenders and per-peer rate buckets remembered at once; the oldest are forgotten first. */
  maxTracked?: number
  /** An offender still at it after this long is reported again (one line per hour, not per attempt). */
  reportAgainAfterMs?: number
}

export interface CircuitRequest {
  source: string
  sourceIp?: string
  /** Circuits the source is in now (as source or destination), not counting this request. */
  sourceCircuits: number
  /** Circuits opened from the source's IP now, not counting this request. */
  sourceIpCircuits: number
  destination: string
  destinationIp?: string
  /** Circuits the destination is in now, as source or destination. */
  destinationCircuits: number
}

const DEFAULT_MAX_TRACKED = 4096
const HOUR_MS = 60 * 60 * 1000

/**
 * Groups an IP address the way a limit should count it: an IPv4 address as itself (also when
 * written IPv4-mapped, `::ffff:1.2.3.4`), an IPv6 address by its /64, since one host usually
 * owns a whole /64 and could otherwise take a fresh address per connection.
 */
export function ipGroup (address: string): string {
  const ip = address.replace(/%.*$/, '').toLowerCase()
  const mapped = /^(?:::|(?:0{1,4}:){5})ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(ip)
  if (mapped?.[1] != null) return mapped[1]
  if (!ip.includes(':')) return ip
  const [head = '', tail] = ip.split('::')
  const headGroups = head === '' ? [] : head.split(':')
  const tailGroups = tail == null || tail === '' ? [] : tail.split(':')
  const groups = tail == null
    ? headGroups
    : [...headGroups, ...Array<string>(Math.max(0, 8 - headGroups.length - tailGroups.length)).fill('0'), ...tailGroups]
  return `${groups.slice(0, 4).map(group => (group === '' ? '0' : group.replace(/^0+(?=.)/, ''))).join(':')}::/64`
}

/** Remembers who was already reported, so a limit logs once per offender, in bounded memory. */
export class OffenderLog {
  private readonly reported = new Map<string, number>()

  constructor (private readonly maxOffenders: number, private readonly reportAgainAfterMs: number, private readonly now: () => number) {}

  /** True the first time (or first again after `reportAgainAfterMs`) `offender` hits `limit`. */
  firstHit (limit: LimitName, offender: string): boolean {
    const key = `${limit} ${offender}`
    const now = this.now()
    const at = this.reported.get(key)
    if (at != null && now - at < this.reportAgainAfterMs) return false
    this.reported.delete(key)
    this.reported.set(key, now)
    forgetOldest(this.reported, this.maxOffenders)
    return true
  }

  get size (): number {
    return this.reported.size
  }
}

function forgetOldest (map: Map<string, unknown>, max: number): void {
  for (const key of map.keys()) {
    if (map.size <= max) return
    map.delete(key)
  }
}

/**
 * Decides, for each kind of request, whether a limit refuses it, and reports each offender
 * the first time it hits each limit. Every `refuse…` method answers the limit that refused,
 * or undefined to let the request through.
 */
export class RelayLimits {
  readonly settings: Readonly<RelayLimitSettings>
  private readonly onFirstHit: (hit: LimitHit) => void
  private readonly onRefusal: (limit: LimitName) => void
  private readonly offenders: OffenderLog
  private readonly inboundRate: TokenBuckets

  constructor (settings: RelayLimitSettings, init: RelayLimitsInit) {
    this.settings = { ...settings }
    this.onFirstHit = init.onFirstHit
    this.onRefusal = init.onRefusal ?? (() => {})
    const now = init.now ?? Date.now
    const maxTracked = init.maxTracked ?? DEFAULT_MAX_TRACKED
    this.offenders = new OffenderLog(maxTracked, init.reportAgainAfterMs ?? HOUR_MS, now)
    // Bursts up to the per-minute number, refilled evenly over the minute.
    this.inboundRate = new TokenBuckets(settings.inboundPerMinutePerPeer / 60, settings.inboundPerMinutePerPeer, { maxKeys: maxTracked, now })
  }

  /** A new inbound connection, before its handshake: `openFromIp` connections from its IP are open. */
  refuseInboundConnection (ip: string, openFromIp: number): LimitName | undefined {
    if (openFromIp < this.settings.maxConnectionsPerIp) return undefined
    return this.refused({ limit: 'connections-per-ip', max: this.settings.maxConnectionsPerIp, offender: ip })
  }

  /**
   * An inbound connection whose peer is now known (after the handshake): `openFromPeer`
   * connections of that peer are open. Only connections allowed by the count use up rate.
   */
  refuseInboundPeer (peer: string, ip: string | undefined, openFromPeer: number): LimitName | undefined {
    if (openFromPeer >= this.settings.maxConnectionsPerPeer) {
      return this.refused({ limit: 'connections-per-peer', max: this.settings.maxConnectionsPerPeer, offender: peer, ip })
    }
    if (this.inboundRate.tryTake(peer) > 0) {
      return this.refused({ limit: 'inbound-rate-per-peer', max: this.settings.inboundPerMinutePerPeer, offender: peer, ip })
    }
    return undefined
  }

  /**
   * A reservation request. Refreshing a reservation the peer already holds is never refused
   * (the protocol has one reservation per peer; a repeat only renews it).
   */
  refuseReservation (peer: string, ip: string | undefined, reservedFromIp: number, alreadyReserved: boolean): LimitName | undefined {
    if (alreadyReserved || ip == null || reservedFromIp < this.settings.maxReservationsPerIp) return undefined
    return this.refused({ limit: 'reservations-per-ip', max: this.settings.maxReservationsPerIp, offender: ip })
  }

  /** A HOP CONNECT: the source asks for a circuit to the destination. */
  refuseCircuit (request: CircuitRequest): LimitName | undefined {
    const { maxCircuitsPerPeer, maxCircuitsPerIp } = this.settings
    if (request.sourceCircuits >= maxCircuitsPerPeer) {
      return this.refused({ limit: 'circuits-per-peer', max: maxCircuitsPerPeer, offender: request.source, ip: request.sourceIp })
    }
    if (request.sourceIp != null && request.sourceIpCircuits >= maxCircuitsPerIp) {
      return this.refused({ limit: 'circuits-per-ip', max: maxCircuitsPerIp, offender: request.sourceIp })
    }
    if (request.destinationCircuits >= maxCircuitsPerPeer) {
      return this.refused({ limit: 'circuits-per-peer', max: maxCircuitsPerPeer, offender: request.destination, ip: request.destinationIp })
    }
    return undefined
  }

  private refused (hit: LimitHit): LimitName {
    this.onRefusal(hit.limit)
    if (this.offenders.firstHit(hit.limit, hit.offender)) {
      this.onFirstHit(hit.ip == null ? { limit: hit.limit, max: hit.max, offender: hit.offender } : hit)
    }
    return hit.limit
  }
}

const LIMIT_TEXT: Record<LimitName, string> = {
  'connections-per-ip': 'open connections per IP',
  'connections-per-peer': 'open connections per peer',
  'inbound-rate-per-peer': 'inbound connections per minute per peer',
  'reservations-per-ip': 'reservations per IP',
  'circuits-per-peer': 'circuits per peer',
  'circuits-per-ip': 'circuits per IP'
}

/** One log line for a limit hit. */
export function describeLimitHit (hit: LimitHit): string {
  const who = hit.ip == null ? hit.offender : `${hit.offender} (${hit.ip})`
  return `limit reached: ${who}: at most ${hit.max} ${LIMIT_TEXT[hit.limit]}; refused with the protocol's own answer (logged once per offender)`
}
