import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { fromString, toString } from 'uint8arrays'
import type { PrivateKey } from '@libp2p/interface'

/** The sessionStorage entry that keeps a tab's key across reloads. */
export const IDENTITY_STORAGE_KEY = 'webkad:identity'

/** The subset of Web Storage used here (sessionStorage in the app, a Map in tests). */
export interface KeyValueStorage {
  getItem(key: string): string | null
  setItem(key: string, value: string): void
}

/**
 * Claims an identity for this tab. Resolves true when this tab now owns it, false when another
 * live tab already does. In the browser this is an exclusive Web Lock held for the page's life.
 */
export type ClaimIdentity = (peerIdKey: string) => Promise<boolean>

export type IdentitySource = 'restored' | 'created' | 'replaced-duplicate'

export interface TabIdentity {
  privateKey: PrivateKey
  source: IdentitySource
}

/**
 * Loads this tab's private key from sessionStorage, or makes a new one. Chrome copies
 * sessionStorage into a duplicated tab, so a stored key that another live tab still holds is
 * replaced: two tabs never share a peer ID, while a reload keeps it.
 */
export async function loadTabIdentity (storage: KeyValueStorage, claim: ClaimIdentity): Promise<TabIdentity> {
  const stored = storage.getItem(IDENTITY_STORAGE_KEY)
  let restored: PrivateKey | undefined
  if (stored != null) {
    try {
      restored = privateKeyFromProtobuf(fromString(stored, 'base64'))
    } catch {
      restored = undefined // corrupt entry: fall through and make a new identity
    }
  }
  if (restored != null && await claim(restored.publicKey.toString())) {
    return { privateKey: restored, source: 'restored' }
  }
  const privateKey = await generateKeyPair('Ed25519')
  storage.setItem(IDENTITY_STORAGE_KEY, toString(privateKeyToProtobuf(privateKey), 'base64'))
  await claim(privateKey.publicKey.toString())
  return { privateKey, source: restored == null ? 'created' : 'replaced-duplicate' }
}

/**
 * How long a reloaded page waits for the lock its previous document held: the old document
 * releases it while unloading, a duplicated tab's original never does.
 */
export const RELOAD_LOCK_GRACE_MS = 1500

/**
 * Claims an identity with an exclusive Web Lock that is held until the page goes away.
 */
export function webLockClaim (locks: LockManager, graceMs = RELOAD_LOCK_GRACE_MS): ClaimIdentity {
  return async (peerIdKey) => {
    const name = `webkad:identity:${peerIdKey}`
    return await new Promise<boolean>((resolve) => {
      const hold = (lock: Lock | null): Promise<void> | undefined => {
        if (lock == null) return undefined
        resolve(true)
        return new Promise<void>(() => {}) // never released: held for the page's lifetime
      }
      locks.request(name, { mode: 'exclusive', signal: AbortSignal.timeout(graceMs) }, hold)
        .catch(() => { resolve(false) })
    })
  }
}

interface IdentityMessage { type: 'who-has' | 'i-have', id: string }

/**
 * Fallback for pages without Web Locks (they need a secure context: plain http:// on a LAN
 * address is not one). Asks the other tabs of this origin whether one of them holds the
 * identity and waits `waitMs` for an answer.
 */
export function broadcastClaim (channelName = 'webkad:identity', waitMs = 300): ClaimIdentity {
  const channel = new BroadcastChannel(channelName)
  const owned = new Set<string>()
  channel.addEventListener('message', (event: MessageEvent<IdentityMessage>) => {
    if (event.data?.type === 'who-has' && owned.has(event.data.id)) {
      channel.postMessage({ type: 'i-have', id: event.data.id } satisfies IdentityMessage)
    }
  })
  return async (peerIdKey) => {
    const taken = await new Promise<boolean>((resolve) => {
      const onMessage = (event: MessageEvent<IdentityMessage>): void => {
        if (event.data?.type === 'i-have' && event.data.id === peerIdKey) finish(true)
      }
      const timer = setTimeout(() => { finish(false) }, waitMs)
      const finish = (result: boolean): void => {
        clearTimeout(timer)
        channel.removeEventListener('message', onMessage)
        resolve(result)
      }
      channel.addEventListener('message', onMessage)
      channel.postMessage({ type: 'who-has', id: peerIdKey } satisfies IdentityMessage)
    })
    if (taken) return false
    owned.add(peerIdKey)
    return true
  }
}
