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
