import { shortPeerId } from '../common/format.ts'
import type { QueryTrace, TraceEvent } from '../../p2p/dht/query-trace.ts'

/** The events of a lookup a replay steps through: each names the peer it happened at. */
export type ReplayEvent = Extract<TraceEvent, { kind: 'send-query' | 'peer-response' | 'query-error' | 'value' | 'provider' }>

const REPLAYED = new Set<TraceEvent['kind']>(['send-query', 'peer-response', 'query-error', 'value', 'provider'])

/** What the map draws at one step of a lookup's replay (step 0: nothing sent yet). */
export interface ReplayFrame {
  step: number
  total: number
  /** Peers sent a request so far. */
  asked: ReadonlySet<string>
  answered: ReadonlySet<string>
  failed: ReadonlySet<string>
  /** Peers that returned the record (or a provider record). */
  found: ReadonlySet<string>
  /** Who named whom as closer to the target, so far. */
  referrals: ReadonlyArray<{ from: string, to: string }>
  current?: ReplayEvent
  description: string
}

export function replaySteps (trace: QueryTrace): ReplayEvent[] {
  return trace.events.filter((event): event is ReplayEvent => REPLAYED.has(event.kind))
}

/** The lookup as it stood after `step` of its events (clamped to 0…total). */
export function replayFrame (trace: QueryTrace, step: number): ReplayFrame {
  const steps = replaySteps(trace)
  const at = Math.max(0, Math.min(Math.trunc(step), steps.length))
  const asked = new Set<string>()
  const answered = new Set<string>()
  const failed = new Set<string>()
  const found = new Set<string>()
  const referrals: Array<{ from: string, to: string }> = []
  for (const event of steps.slice(0, at)) {
    if (event.kind === 'send-query') asked.add(event.to.peer)
    else if (event.kind === 'peer-response') {
      answered.add(event.from.peer)
      for (const closer of event.closer) referrals.push({ from: event.from.peer, to: closer.peer })
    } else if (event.kind === 'query-error') failed.add(event.from.peer)
    else found.add(event.from.peer)
  }
  const current = at > 0 ? steps[at - 1] : undefined
  return {
    step: at,
    total: steps.length,
    asked,
    answered,
    failed,
    found,
    referrals,
    ...(current != null ? { current } : {}),
    description: current == null ? 'Start: nothing sent yet.' : describeReplayEvent(current)
  }
}

export function describeReplayEvent (event: ReplayEvent): string {
  const at = `${(event.at / 1000).toFixed(2)} s`
  switch (event.kind) {
    case 'send-query': return `${at}: sent ${event.message} to ${shortPeerId(event.to.peer)} (path ${event.path + 1}).`
    case 'peer-response': return `${at}: ${shortPeerId(event.from.peer)} answered ${event.message} with ${event.closer.length} closer peer${event.closer.length === 1 ? '' : 's'}${event.hasRecord ? ' and the record' : ''}.`
    case 'query-error': return `${at}: ${shortPeerId(event.from.peer)} failed: ${event.error}`
    case 'value': return `${at}: ${shortPeerId(event.from.peer)} returned the value.`
    case 'provider': return `${at}: ${shortPeerId(event.from.peer)} is a provider.`
  }
}

/** Every peer a replay names (to tell which of them the map lacks). */
export function replayPeers (trace: QueryTrace): Set<string> {
  const peers = new Set<string>()
  for (const event of replaySteps(trace)) {
    if (event.kind === 'send-query') peers.add(event.to.peer)
    else {
      peers.add(event.from.peer)
      if (event.kind === 'peer-response') for (const closer of event.closer) peers.add(closer.peer)
    }
  }
  return peers
}
