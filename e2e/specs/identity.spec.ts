import { test, expect } from '../fixtures/test.ts'
import type { Page } from '@playwright/test'
import type { WebkadTab } from '../pages/webkad-tab.ts'

/** The sessionStorage entry src/p2p/identity.ts keeps the tab's key in. */
const IDENTITY_STORAGE_KEY = 'webkad:identity'

async function identitySource (tab: WebkadTab): Promise<string | undefined> {
  return await tab.page.evaluate(() => window.webkad?.session.state.getSnapshot().identitySource)
}

async function storedIdentity (tab: WebkadTab): Promise<string> {
  const stored = await tab.page.evaluate((key) => window.sessionStorage.getItem(key), IDENTITY_STORAGE_KEY)
  expect(stored, `sessionStorage ${IDENTITY_STORAGE_KEY}`).not.toBeNull()
  return stored as string
}

/**
 * What Chrome's "Duplicate tab" does: the new tab starts with a copy of the original's
 * sessionStorage. Seed it before any script of the app runs.
 */
async function seedIdentity (page: Page, appUrl: string, value: string): Promise<void> {
  await page.addInitScript(({ key, value, origin }) => {
    if (window.location.origin === origin) window.sessionStorage.setItem(key, value)
  }, { key: IDENTITY_STORAGE_KEY, value, origin: new URL(appUrl).origin })
}

test('a reload keeps the peer ID; another tab gets its own', async ({ openTab }) => {
  const tabA = await openTab()
  const idA = await tabA.peerId()
  expect(await identitySource(tabA)).toBe('created')
  await tabA.connect()

  const startedAt = Date.now()
  await tabA.reload()
  const reloadMs = Date.now() - startedAt
  expect(await tabA.peerId()).toBe(idA)
  expect(await identitySource(tabA)).toBe('restored')
  console.log(`reload → app rendered with the same peer ID: ${reloadMs}ms`)

  // The reloaded tab rejoins the relay it was connected to, under the same peer ID.
  await tabA.expectStatus('online', 30_000)

  const tabB = await openTab()
  expect(await tabB.peerId()).not.toBe(idA)
  expect(await identitySource(tabB)).toBe('created')
})

test('a duplicated tab gets a new peer ID while the original lives, the original\'s once it is closed', async ({ relay, openTab }) => {
  const tabA = await openTab()
  const idA = await tabA.peerId()
  const storedA = await storedIdentity(tabA)

  const duplicate = await openTab({ navigate: false })
  await seedIdentity(duplicate.page, relay.appUrl, storedA)
  await duplicate.goto()
  const idDuplicate = await duplicate.peerId()
  expect(idDuplicate).not.toBe(idA)
  expect(await identitySource(duplicate)).toBe('replaced-duplicate')
  // The duplicate stored its new key, so its own reloads keep the new ID.
  expect(await storedIdentity(duplicate)).not.toBe(storedA)

  // Both are distinct peers on the network.
  await Promise.all([tabA.connect(), duplicate.connect()])

  // Closing A releases its Web Lock: a tab carrying A's key now gets A's peer ID back.
  await tabA.page.close()
  const reopened = await openTab({ navigate: false })
  await seedIdentity(reopened.page, relay.appUrl, storedA)
  await reopened.goto()
  expect(await reopened.peerId()).toBe(idA)
  expect(await identitySource(reopened)).toBe('restored')
})
