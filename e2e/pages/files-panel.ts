import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { expect } from '@playwright/test'
import type { Locator, Page } from '@playwright/test'

/** Sharing chunks, hashes and stores the file, then provides it (a DHT lookup). */
const SHARE_TIMEOUT_MS = 60_000
const TRANSFER_TIMEOUT_MS = 90_000

/** The Files panel of one tab, driven through its UI (role and label locators; data-* for live transfer state). */
export class FilesPanel {
  readonly page: Page

  constructor (page: Page) {
    this.page = page
  }

  get panel (): Locator { return this.page.getByRole('region', { name: 'Files', exact: true }) }
  get fileInput (): Locator { return this.panel.getByLabel('Choose a file to share') }
  get cidField (): Locator { return this.panel.getByLabel('CID or link to fetch') }
  get fetchButton (): Locator { return this.panel.getByRole('button', { name: 'Fetch', exact: true }) }
  get findProvidersButton (): Locator { return this.panel.getByRole('button', { name: 'Find providers', exact: true }) }
  get sharedResult (): Locator { return this.panel.getByRole('region', { name: 'Shared file' }) }
  get sharedCid (): Locator { return this.sharedResult.getByTestId('shared-cid') }
  get sharedLink (): Locator { return this.sharedResult.getByRole('link', { name: 'Link to this file' }) }
  get providersFound (): Locator { return this.panel.getByRole('list', { name: 'Providers found' }).getByRole('listitem') }
  get alert (): Locator { return this.panel.getByRole('alert') }
  get fileRows (): Locator { return this.panel.getByRole('table', { name: 'Files in this tab' }).getByTestId('file-row') }

  transfer (cid: string): Locator { return this.panel.locator(`[data-testid="transfer"][data-cid="${cid}"]`) }
  providerShares (cid: string): Locator { return this.transfer(cid).getByTestId('provider-share') }

  /** Shares a file through the file input; returns its root CID and the shareable link. */
  async share (name: string, content: Buffer): Promise<{ cid: string, link: string }> {
    await this.fileInput.setInputFiles({ name, mimeType: 'application/octet-stream', buffer: content })
    await expect(this.sharedResult.or(this.alert).first()).toBeVisible({ timeout: SHARE_TIMEOUT_MS })
    await expect(this.alert).toHaveCount(0)
    await expect(this.sharedResult.getByTestId('provide-result')).toBeVisible({ timeout: SHARE_TIMEOUT_MS })
    const cid = (await this.sharedCid.textContent() ?? '').trim()
    const link = await this.sharedLink.getAttribute('href') ?? ''
    return { cid, link }
  }

  /** Pastes a CID or link and clicks Fetch (without waiting for the end). */
  async startFetch (cidOrLink: string): Promise<void> {
    await this.cidField.fill(cidOrLink)
    await this.fetchButton.click()
  }

  /** Waits until the transfer is done (fails early on a failed transfer, with its message). */
  async waitForTransfer (cid: string, timeout = TRANSFER_TIMEOUT_MS): Promise<void> {
    const transfer = this.transfer(cid)
    await expect(transfer.and(this.page.locator('[data-phase="done"], [data-phase="failed"], [data-phase="cancelled"]'))).toBeVisible({ timeout })
    const phase = await transfer.getAttribute('data-phase')
    if (phase !== 'done') throw new Error(`transfer of ${cid} ended ${phase ?? '?'}: ${await transfer.textContent() ?? ''}`)
  }

  /** Bytes of the transfer stored so far. */
  async transferredBytes (cid: string): Promise<number> {
    return Number(await this.transfer(cid).getAttribute('data-bytes') ?? '0')
  }

  /** Each provider's share of a transfer: peer → bytes. */
  async shares (cid: string): Promise<Map<string, { bytes: number, state: string }>> {
    const rows = await this.providerShares(cid).evaluateAll(items => items.map(item => [item.getAttribute('data-peer') ?? '', Number(item.getAttribute('data-bytes')), item.getAttribute('data-state') ?? ''] as const))
    return new Map(rows.map(([peer, bytes, state]) => [peer, { bytes, state }]))
  }

  /** Clicks Download on the file's row and returns the SHA-256 (hex) of the downloaded file and its name. */
  async downloadHash (name: string): Promise<{ sha256: string, suggestedName: string }> {
    const downloading = this.page.waitForEvent('download', { timeout: 60_000 })
    await this.panel.getByRole('button', { name: `Download ${name}`, exact: true }).click()
    const download = await downloading
    const path = await download.path()
    return { sha256: createHash('sha256').update(await readFile(path)).digest('hex'), suggestedName: download.suggestedFilename() }
  }

  /** Clicks Find providers for a CID; returns the full peer IDs listed. */
  async findProviders (cid: string): Promise<string[]> {
    await this.cidField.fill(cid)
    await this.findProvidersButton.click()
    const result = this.panel.getByRole('region', { name: 'Find providers result' })
    await expect(result.or(this.alert).first()).toBeVisible({ timeout: 35_000 })
    if (!await result.isVisible()) throw new Error(`Find providers failed: ${await this.alert.first().textContent() ?? ''}`)
    return await this.providersFound.locator('code').evaluateAll(codes => codes.map(code => code.getAttribute('title') ?? ''))
  }
}
