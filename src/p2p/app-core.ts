import { IDBDatastore } from 'datastore-idb'
import { broadcastClaim, loadTabIdentity, webLockClaim } from './identity.ts'
import { WebkadSession } from './session.ts'
import type { NodeStatus } from './session.ts'
import type { WebkadNode } from './node.ts'
import type { KadInternals } from './dht/kad-internals.ts'

/** Read-only handle on `window.webkad` for the browser console and tests. */
export interface WebkadHandle {
  readonly peerId: string
  readonly status: NodeStatus
  readonly node: WebkadNode | undefined
  /** kad-dht's internals through webkad's one adapter (the bench removes peers from the table with it). */
  readonly kad: KadInternals | undefined
  readonly session: WebkadSession
}

declare global {
  interface Window { webkad?: WebkadHandle }
}

export interface AppConfig {
  /** STUN/TURN servers for WebRTC; none by default (host candidates work on one machine/LAN). */
  iceServers: RTCIceServer[]
  /** `?webrtc=off` runs the tab without WebRTC (chat then goes through the relay). */
  webrtc: boolean
  /** `?direct=N`: direct WebRTC connections the auto-dial task aims for (default 8). */
  maxDirectConnections: number
  /** `?scheduler=off`: no background discovery (the original demo's manual mode). */
  scheduler: boolean
  /** `?dhtStreams=fresh`: a stream per DHT request, as stock kad-dht (the bench's baseline). */
  reuseDhtStreams: boolean
  /** `?k=N` (2-20): the DHT bucket size, so a handful of tabs can show caching beyond the k closest. */
  bucketSize?: number
  /** `?replicate=S` (10-86400 s): the holder replication interval (default a few minutes). */
  replicationIntervalMs?: number
}

/**
 * Reads the app configuration from the page URL: `?ice=stun:host:3478,turn:host:3478`.
 * Real deployments set STUN/TURN here; local use and tests leave it empty.
 */
export function readAppConfig (search: string): AppConfig {
  const params = new URLSearchParams(search)
  const ice = params.get('ice')
  const iceServers = ice == null || ice.trim() === '' ? [] : ice.split(',').map(url => ({ urls: url.trim() }))
  const direct = Number(params.get('direct') ?? '8')
  // Plain decimal digits only: `1e1` or ` 2` are not what anyone types on purpose.
  const digits = (name: string): number => /^\d{1,6}$/.test(params.get(name) ?? '') ? Number(params.get(name)) : Number.NaN
  const bucketSize = digits('k')
  const replicateSeconds = digits('replicate')
  return {
    iceServers,
    webrtc: params.get('webrtc') !== 'off',
    maxDirectConnections: Number.isInteger(direct) && direct >= 0 && direct <= 64 ? direct : 8,
    scheduler: params.get('scheduler') !== 'off',
    reuseDhtStreams: params.get('dhtStreams') !== 'fresh',
    ...(Number.isInteger(bucketSize) && bucketSize >= 2 && bucketSize <= 20 ? { bucketSize } : {}),
    ...(Number.isFinite(replicateSeconds) && replicateSeconds >= 10 && replicateSeconds <= 86_400 ? { replicationIntervalMs: Math.round(replicateSeconds * 1000) } : {})
  }
}

/** Creates this tab's session (identity first) and publishes `window.webkad`. */
export async function startApp (config: AppConfig): Promise<WebkadSession> {
  // Web Locks exist only in secure contexts (https, localhost); elsewhere ask other tabs instead.
  const claim = 'locks' in navigator && navigator.locks != null ? webLockClaim(navigator.locks) : broadcastClaim()
  const identity = await loadTabIdentity(window.sessionStorage, claim)
  const session = new WebkadSession({
    privateKey: identity.privateKey,
    identitySource: identity.source,
    iceServers: config.iceServers,
    webrtc: config.webrtc,
    maxDirectConnections: config.maxDirectConnections,
    scheduler: config.scheduler,
    reuseDhtStreams: config.reuseDhtStreams,
    ...(config.bucketSize != null ? { dht: { kBucketSize: config.bucketSize } } : {}),
    replicationIntervalMs: config.replicationIntervalMs,
    storage: window.sessionStorage,
    // libp2p's datastore (peer store, records held, provider records): one database per identity.
    openNodeDatastore: async (peerId) => {
      const datastore = new IDBDatastore(`webkad-node-${peerId}`)
      await datastore.open()
      return datastore
    },
    // One IndexedDB database per identity: a duplicated tab's new identity starts a fresh history.
    openChatDatastore: async (peerId) => {
      const datastore = new IDBDatastore(`webkad-chat-${peerId}`)
      await datastore.open()
      return datastore
    }
  })
  const handle: WebkadHandle = Object.freeze({
    get peerId () { return session.peerId.toString() },
    get status () { return session.state.getSnapshot().status },
    get node () { return session.node },
    get kad () { return session.kad },
    session
  })
  Object.defineProperty(window, 'webkad', { value: handle, writable: false, configurable: false })
  window.addEventListener('pagehide', () => { void session.disconnect() })
  return session
}

/**
 * WebSocket first: WebRTC-Direct only when no WebSocket address is usable, as on an https page
 * (which may not open ws://) whose relay has no wss:// proxy.
 */
export function preferredBootnodes (addrs: string[], httpsPage: boolean): string[] {
  const webrtcDirect = addrs.filter(addr => addr.includes('/webrtc-direct/'))
  const webSockets = addrs.filter(addr => !addr.includes('/webrtc-direct/') && (!httpsPage || addr.includes('/wss') || addr.includes('/tls/')))
  return webSockets.length > 0 ? webSockets : webrtcDirect
}

/**
 * The bootnode multiaddrs the relay announces at GET /bootstrap, if it can be reached.
 * `?bootstrap=<url>` overrides the URL (default: same origin).
 */
export async function fetchBootstrapAddrs (search: string, signal?: AbortSignal): Promise<string[]> {
  const url = new URLSearchParams(search).get('bootstrap') ?? '/bootstrap'
  try {
    const response = await fetch(url, { signal: signal ?? AbortSignal.timeout(3000) })
    if (!response.ok) return []
    const body = await response.json() as { multiaddrs?: unknown }
    const addrs = Array.isArray(body.multiaddrs) ? body.multiaddrs.filter((item): item is string => typeof item === 'string') : []
    return preferredBootnodes(addrs, globalThis.location?.protocol === 'https:')
  } catch {
    return []
  }
}
