import { createStore } from '../../src/p2p/stores/store.ts'
import type { SessionState } from '../../src/p2p/session.ts'
import type { WritableStore } from '../../src/p2p/stores/store.ts'

/** Real Ed25519 peer IDs, so the components shorten and compare them as they would live ones. */
export const SELF = '12D3KooWLRq9BF5t6PVJegnWmSi9PSKtcCifqs9tVoDUocFL5tTp'
export const RELAY = '12D3KooWQPFDL86ZS2xAvqd98HyfpCfm6NeM5NgMRMQij77BWQmd'
export const ALICE = '12D3KooWKJNoi3rr1QYgSTUqSF5MCjdxWwWzDpzL4quB7R7az1AC'
export const BOB = '12D3KooWP3o8WYd7S6EQN9WHNcSXRNkkTF2g1CeSwUAJWSXjBCo9'
export const CAROL = '12D3KooWC7qmdhg5rPiKtMzrkRwYdLueDkRnimpSk2MqaeAtA3YZ'
export const DAVE = '12D3KooWK7LQvsgDcVG49iKXnwJpWboFcQkLCfzfPU1XZ4aoKwiH'
export const ERIN = '12D3KooWD45R1iqNZYvjmpXbGCxteS4U8MLrh5o63JhwxBonJYYz'
export const FRANK = '12D3KooWP7AfVLwQqZPfZdM6qQqtnCEibX3z5qHLHc8YAGZXcV5y'

/** The session's state store as it is once the tab holds a reservation on the relay. */
export function onlineState (): WritableStore<SessionState> {
  return createStore<SessionState>({
    status: 'online',
    peerId: SELF,
    identitySource: 'created',
    bootnodes: [`/ip4/127.0.0.1/tcp/9090/ws/p2p/${RELAY}`],
    relayPeerId: RELAY,
    listenAddrs: [`/ip4/127.0.0.1/tcp/9090/ws/p2p/${RELAY}/p2p-circuit/p2p/${SELF}`],
    timings: { relayConnectedMs: 40, reservationMs: 65 }
  })
}

/** A promise the test settles by hand, to look at a component while its operation runs. */
export function deferred<T> (): { promise: Promise<T>, resolve: (value: T) => void, reject: (err: unknown) => void } {
  let resolve!: (value: T) => void
  let reject!: (err: unknown) => void
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej })
  return { promise, resolve, reject }
}
