import { createHash, randomBytes } from 'node:crypto'
import { test, expect } from '../fixtures/test.ts'
import { FilesPanel } from '../pages/files-panel.ts'

/**
 * Files through the DHT between real tabs: A shares a file (provider record on the k closest),
 * B finds A by FIND_PROVIDERS and fetches it block by block over WebRTC, verified, and becomes a
 * provider; C fetches from A and B together; bytes compared by SHA-256 computed here.
 */

const FILE_BYTES = 20 * 1024 * 1024

function sha256 (bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

test('share a 20 MiB file, fetch it by link with progress, then from two providers at once', async ({ relay, openTab }) => {
  test.setTimeout(180_000)
  // A and B serve at most 3 MiB/s each, so a transfer lasts long enough to watch (and to see both share it).
  const capped = `${relay.appUrl}${relay.appUrl.includes('?') ? '&' : '?'}uploadKiBps=3072`
  const [a, b, c] = await Promise.all([openTab({ url: capped }), openTab({ url: capped }), openTab()])
  await Promise.all([a, b, c].map(async tab => await tab.connect()))
  const [filesA, filesB, filesC] = [a, b, c].map(tab => new FilesPanel(tab.page))
  if (filesA == null || filesB == null || filesC == null) throw new Error('tabs')
  const content = randomBytes(FILE_BYTES)
  const name = 'holiday-video.bin'

  const shared = await test.step('A shares the file: root CID, link, provider record stored on peers', async () => {
    const result = await filesA.share(name, content)
    expect(result.cid).toMatch(/^bafy/)
    expect(result.link).toContain(`#cid=${result.cid}`)
    expect(Number(await filesA.sharedResult.getByTestId('provide-result').getAttribute('data-accepted'))).toBeGreaterThan(0)
    await expect(filesA.fileRows.and(a.page.locator(`[data-cid="${result.cid}"]`))).toHaveAttribute('data-providing', 'true')
    return result
  })

  await test.step('B finds A as the provider, fetches by link with progress, and the bytes are identical', async () => {
    expect(await filesB.findProviders(shared.cid)).toEqual([await a.peerId()])
    await filesB.startFetch(shared.link)
    // Progress shows while it runs: some bytes, not all.
    await expect.poll(async () => await filesB.transferredBytes(shared.cid), { timeout: 30_000 }).toBeGreaterThan(0)
    expect(await filesB.transferredBytes(shared.cid)).toBeLessThan(FILE_BYTES)
    await filesB.waitForTransfer(shared.cid)
    const downloaded = await filesB.downloadHash(name)
    expect(downloaded.suggestedName).toBe(name)
    expect(downloaded.sha256).toBe(sha256(content))
  })

  await test.step('C fetches from A and B together: two providers, both contributed', async () => {
    await expect.poll(async () => (await filesC.findProviders(shared.cid)).sort(), { timeout: 20_000 }).toEqual([await a.peerId(), await b.peerId()].sort())
    await filesC.startFetch(shared.link)
    await filesC.waitForTransfer(shared.cid)
    const shares = await filesC.shares(shared.cid)
    expect([...shares.keys()].sort()).toEqual([await a.peerId(), await b.peerId()].sort())
    for (const [peer, share] of shares) expect(share.bytes, `bytes from ${peer}`).toBeGreaterThan(0)
    expect([...shares.values()].reduce((sum, share) => sum + share.bytes, 0)).toBe(FILE_BYTES)
    expect((await filesC.downloadHash(name)).sha256).toBe(sha256(content))
  })
})
