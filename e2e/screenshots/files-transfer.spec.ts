import '../../relay/node20-polyfills.ts'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { test, expect } from '../fixtures/test.ts'
import { FilesPanel } from '../pages/files-panel.ts'

/** docs/files-transfer.png: tab C fetching a file from A and B at once, progress and both providers' shares showing. */
const OUTPUT = fileURLToPath(new URL('../../docs/files-transfer.png', import.meta.url))
const FILE_BYTES = 24 * 1024 * 1024

test('screenshot: a transfer in progress from two providers', async ({ relay, openTab }) => {
  // Providers capped at 1 MiB/s each, so the transfer is caught half-way.
  const capped = `${relay.appUrl}${relay.appUrl.includes('?') ? '&' : '?'}uploadKiBps=1024`
  const [a, b, c] = await Promise.all([openTab({ url: capped }), openTab({ url: capped }), openTab()])
  await Promise.all([a, b, c].map(async tab => await tab.connect()))
  const [filesA, filesB, filesC] = [a, b, c].map(tab => new FilesPanel(tab.page))
  if (filesA == null || filesB == null || filesC == null) throw new Error('tabs')
  const content = randomBytes(FILE_BYTES)
  const name = 'holiday-video.mp4'
  const shared = await filesA.share(name, content)
  await filesB.share(name, content)
  await expect.poll(async () => (await filesC.findProviders(shared.cid)).length, { timeout: 20_000 }).toBe(2)
  await filesC.startFetch(shared.link)
  await expect(filesC.providerShares(shared.cid)).toHaveCount(2, { timeout: 20_000 })
  await expect.poll(async () => await filesC.transferredBytes(shared.cid), { timeout: 30_000 }).toBeGreaterThan(FILE_BYTES * 0.3)
  await c.page.setViewportSize({ width: 1100, height: 900 })
  await filesC.panel.scrollIntoViewIfNeeded()
  await filesC.panel.screenshot({ path: OUTPUT })
})
