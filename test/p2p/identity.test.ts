import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { privateKeyFromProtobuf } from '@libp2p/crypto/keys'
import { fromString } from 'uint8arrays'
import { describe, expect, it } from 'vitest'
import { IDENTITY_STORAGE_KEY, broadcastClaim, loadTabIdentity, webLockClaim } from '../../src/p2p/identity.ts'
import type { ClaimIdentity, KeyValueStorage } from '../../src/p2p/identity.ts'

/** sessionStorage stand-in; copying it models Chrome's "Duplicate tab". */
class MapStorage implements KeyValueStorage {
  readonly entries: Map<string, string>
  constructor (entries: Map<string, string> = new Map()) { this.entries = new Map(entries) }
  getItem (key: string): string | null { return this.entries.get(key) ?? null }
  setItem (key: string, value: string): void { this.entries.set(key, value) }
  copy (): MapStorage { return new MapStorage(this.entries) }
}

/**
 * The identities held by live tabs of one browser. A tab claims through `claimIn`; a reload
 * is a fresh set (the unloading document released its locks), a duplicate shares the set.
 */
function claimIn (held: Set<string>, calls: string[] = []): ClaimIdentity {
  return async (key) => {
    calls.push(key)
    if (held.has(key)) return false
    held.add(key)
    return true
  }
}

function storedPeerId (storage: KeyValueStorage): string {
  const stored = storage.getItem(IDENTITY_STORAGE_KEY)
  if (stored == null) throw new Error('nothing stored')
  return peerIdFromPrivateKey(privateKeyFromProtobuf(fromString(stored, 'base64'))).toString()
}

describe('loadTabIdentity', () => {
  it('creates, stores and claims an Ed25519 identity on first load', async () => {
    const storage = new MapStorage()
    const calls: string[] = []
    const identity = await loadTabIdentity(storage, claimIn(new Set(), calls))
    expect(identity.source).toBe('created')
    expect(identity.privateKey.type).toBe('Ed25519')
    expect(storedPeerId(storage)).toBe(peerIdFromPrivateKey(identity.privateKey).toString())
    // The new identity is claimed too, so a duplicate of this tab sees it as taken.
    expect(calls).toEqual([identity.privateKey.publicKey.toString()])
  })

  it('restores the same peer ID on reload', async () => {
    const storage = new MapStorage()
    const first = await loadTabIdentity(storage, claimIn(new Set()))
    const reloaded = await loadTabIdentity(storage, claimIn(new Set()))
    expect(reloaded.source).toBe('restored')
    expect(peerIdFromPrivateKey(reloaded.privateKey).equals(peerIdFromPrivateKey(first.privateKey))).toBe(true)
    expect(storedPeerId(storage)).toBe(peerIdFromPrivateKey(first.privateKey).toString())
  })

  it('gives a duplicated tab a new identity and overwrites its copied storage', async () => {
    const browser = new Set<string>()
    const original = new MapStorage()
    const first = await loadTabIdentity(original, claimIn(browser))
    const duplicate = original.copy()
    const calls: string[] = []
    const second = await loadTabIdentity(duplicate, claimIn(browser, calls))

    const firstId = peerIdFromPrivateKey(first.privateKey).toString()
    const secondId = peerIdFromPrivateKey(second.privateKey).toString()
    expect(second.source).toBe('replaced-duplicate')
    expect(secondId).not.toBe(firstId)
    expect(storedPeerId(duplicate)).toBe(secondId)
    expect(storedPeerId(original)).toBe(firstId)
    // It asked for the copied identity first, then claimed its own.
    expect(calls).toEqual([first.privateKey.publicKey.toString(), second.privateKey.publicKey.toString()])
    expect(browser.has(second.privateKey.publicKey.toString())).toBe(true)
  })

  it.each([
    ['not base64 at all !!!'],
    ['aGVsbG8gd29ybGQ='], // base64 of "hello world": not a key protobuf
    ['']
  ])('replaces a corrupt stored value %j with a new identity', async (corrupt) => {
    const storage = new MapStorage(new Map([[IDENTITY_STORAGE_KEY, corrupt]]))
    const calls: string[] = []
    const identity = await loadTabIdentity(storage, claimIn(new Set(), calls))
    expect(identity.source).toBe('created')
    expect(storage.getItem(IDENTITY_STORAGE_KEY)).not.toBe(corrupt)
    expect(storedPeerId(storage)).toBe(peerIdFromPrivateKey(identity.privateKey).toString())
    expect(calls).toEqual([identity.privateKey.publicKey.toString()])
  })
})

/**
 * An in-memory Web Locks manager with the semantics webLockClaim relies on: exclusive locks,
 * granted in request order, released when the callback's promise settles; a request still
 * waiting when its signal aborts rejects with the signal's reason.
 */
class FakeLockManager {
  private readonly held = new Set<string>()
  private readonly queues = new Map<string, Array<() => void>>()

  async request (name: string, options: LockOptions, callback: (lock: Lock | null) => unknown): Promise<unknown> {
    return await new Promise((resolve, reject) => {
      const signal = options.signal
      if (signal?.aborted === true) { reject(signal.reason); return }
      const queue = this.queues.get(name) ?? []
      this.queues.set(name, queue)
      const onAbort = (): void => {
        const index = queue.indexOf(grant)
        if (index >= 0) queue.splice(index, 1)
        reject(signal?.reason)
      }
      const grant = (): void => {
        signal?.removeEventListener('abort', onAbort)
        this.held.add(name)
        Promise.resolve()
          .then(() => callback({ name, mode: options.mode ?? 'exclusive' } as Lock))
          .then(resolve, reject)
          .finally(() => { this.release(name) })
      }
      if (!this.held.has(name) && queue.length === 0) {
        grant()
      } else {
        queue.push(grant)
        signal?.addEventListener('abort', onAbort, { once: true })
      }
    })
  }

  isHeld (name: string): boolean { return this.held.has(name) }

  /** Another document takes the lock; returns the function that releases it. */
  async holdElsewhere (name: string): Promise<() => void> {
    let release!: () => void
    const held = new Promise<void>(resolve => { release = resolve })
    await new Promise<void>((granted) => {
      void this.request(name, { mode: 'exclusive' }, async () => { granted(); await held })
    })
    return release
  }

  private release (name: string): void {
    this.held.delete(name)
    this.queues.get(name)?.shift()?.()
  }
}

function lockManager (fake: FakeLockManager): LockManager {
  return fake as unknown as LockManager
}

async function timed<T> (work: Promise<T>): Promise<{ result: T, ms: number }> {
  const startedAt = performance.now()
  const result = await work
  return { result, ms: performance.now() - startedAt }
}

describe('webLockClaim', () => {
  const GRACE_MS = 150

  it('claims a free identity at once and keeps holding it', async () => {
    const locks = new FakeLockManager()
    const { result, ms } = await timed(webLockClaim(lockManager(locks), GRACE_MS)('key-a'))
    expect(result).toBe(true)
    expect(ms).toBeLessThan(GRACE_MS)
    await new Promise(resolve => setTimeout(resolve, GRACE_MS + 50))
    expect(locks.isHeld('webkad:identity:key-a')).toBe(true)
  })

  it('refuses an identity another tab holds, after the grace period', async () => {
    const locks = new FakeLockManager()
    const claim = webLockClaim(lockManager(locks), GRACE_MS)
    expect(await claim('key-a')).toBe(true)
    const { result, ms } = await timed(webLockClaim(lockManager(locks), GRACE_MS)('key-a'))
    expect(result).toBe(false)
    expect(ms).toBeGreaterThanOrEqual(GRACE_MS - 20)
    expect(ms).toBeLessThan(GRACE_MS + 1000)
    // Another identity is unaffected.
    expect(await claim('key-b')).toBe(true)
  })

  it('gets an identity whose previous holder lets go within the grace period (a reload)', async () => {
    const locks = new FakeLockManager()
    const release = await locks.holdElsewhere('webkad:identity:key-a')
    setTimeout(release, GRACE_MS / 3)
    expect(await webLockClaim(lockManager(locks), GRACE_MS)('key-a')).toBe(true)
    expect(locks.isHeld('webkad:identity:key-a')).toBe(true)
  })

  it('refuses when the previous holder lets go only after the grace period', async () => {
    const locks = new FakeLockManager()
    const release = await locks.holdElsewhere('webkad:identity:key-a')
    const claimed = webLockClaim(lockManager(locks), GRACE_MS)('key-a')
    setTimeout(release, GRACE_MS * 2)
    expect(await claimed).toBe(false)
    await new Promise(resolve => setTimeout(resolve, GRACE_MS * 2))
    // The aborted request must not take the lock when it frees up later.
    expect(locks.isHeld('webkad:identity:key-a')).toBe(false)
  })
})

describe('broadcastClaim', () => {
  it('refuses an identity another tab of the origin announced, and allows others', async () => {
    const channel = `webkad:identity:test-${Math.random()}`
    const tabA = broadcastClaim(channel, 100)
    const tabB = broadcastClaim(channel, 100)
    expect(await tabA('key-a')).toBe(true)
    expect(await tabB('key-a')).toBe(false)
    expect(await tabB('key-b')).toBe(true)
    expect(await tabA('key-b')).toBe(false)
  })
})
