import type { QueryTrace, TracePeer } from '../../p2p/dht/query-trace.ts'

/** One request of a lookup: who pointed us at `to` (undefined = this tab's own table) and when it was sent. */
export interface LookupStep {
  from?: TracePeer
  to: TracePeer
  at: number
  path: number
}

export type ContactState = 'asked' | 'answered' | 'failed'

export interface ContactedPeer {
  peer: TracePeer
  state: ContactState
  hasRecord: boolean
}

/** Answers: one per peer that responded (not hops, which webkad uses for a lookup's path depth). */
export function responseCount (trace: QueryTrace): number {
  return trace.events.filter(event => event.kind === 'peer-response').length
}

/**
 * The lookup's requests in order, each linked to the earlier response that named the peer:
 * the chain that walks towards the target. Repeated requests along the same link are dropped.
 */
export function lookupSteps (trace: QueryTrace): LookupStep[] {
  const referrers = new Map<string, TracePeer>()
  const seen = new Set<string>()
  const steps: LookupStep[] = []
  for (const event of trace.events) {
    if (event.kind === 'peer-response') {
      for (const closer of event.closer) if (!referrers.has(closer.peer)) referrers.set(closer.peer, event.from)
    } else if (event.kind === 'send-query') {
      const from = referrers.get(event.to.peer)
      const link = `${from?.peer ?? 'self'}>${event.to.peer}`
      if (seen.has(link)) continue
      seen.add(link)
      steps.push({ from, to: event.to, at: event.at, path: event.path })
    }
  }
  return steps
}

/** Every peer the lookup sent a request to, with how it went. */
export function contactedPeers (trace: QueryTrace): ContactedPeer[] {
  const contacts = new Map<string, ContactedPeer>()
  const touch = (peer: TracePeer): ContactedPeer => {
    let contact = contacts.get(peer.peer)
    if (contact == null) {
      contact = { peer, state: 'asked', hasRecord: false }
      contacts.set(peer.peer, contact)
    }
    return contact
  }
  for (const event of trace.events) {
    if (event.kind === 'send-query') touch(event.to)
    if (event.kind === 'peer-response') {
      const contact = touch(event.from)
      contact.state = 'answered'
      contact.hasRecord ||= event.hasRecord
    }
    if (event.kind === 'query-error') {
      const contact = touch(event.from)
      if (contact.state === 'asked') contact.state = 'failed'
    }
  }
  return [...contacts.values()]
}
