import type { Locator, Page } from '@playwright/test'

export type RecordArrival = 'own' | 'author' | 'copy' | 'cache'

/** One row of the Stored-here panel, read from its attributes (exact values). */
export interface StoredRow {
  key: string
  arrival: RecordArrival
  sequence: number
  keepUntil: number
  expiresAt: number
  receivedAt: number
  closerPeers: number
  from: string
}

/** The Stored-here panel of one tab: the records it holds and how each arrived. */
export class StoredPanel {
  readonly page: Page

  constructor (page: Page) {
    this.page = page
  }

  get region (): Locator { return this.page.getByRole('region', { name: 'Stored here', exact: true }) }
  get rows (): Locator { return this.region.getByTestId('stored-record') }
  get clearButton (): Locator { return this.region.getByRole('button', { name: 'Clear this tab\'s storage', exact: true }) }
  get alert (): Locator { return this.region.getByRole('alert') }

  row (key: string): Locator {
    return this.region.locator(`[data-testid="stored-record"][data-key="${key}"]`)
  }

  async records (): Promise<StoredRow[]> {
    return await this.rows.evaluateAll(rows => rows.map(row => ({
      key: row.getAttribute('data-key') ?? '',
      arrival: (row.getAttribute('data-arrival') ?? 'own') as RecordArrival,
      sequence: Number(row.getAttribute('data-sequence')),
      keepUntil: Number(row.getAttribute('data-keep-until')),
      expiresAt: Number(row.getAttribute('data-expires-at')),
      receivedAt: Number(row.getAttribute('data-received-at')),
      closerPeers: Number(row.getAttribute('data-closer-peers')),
      from: row.getAttribute('data-from') ?? ''
    })))
  }

  async record (key: string): Promise<StoredRow | undefined> {
    return (await this.records()).find(row => row.key === key)
  }

  /** Waits for the record's row (the panel loads lazily and coalesces updates), then reads it. */
  async heldRecord (key: string, timeoutMs = 10_000): Promise<StoredRow> {
    await this.row(key).waitFor({ state: 'attached', timeout: timeoutMs })
    const row = await this.record(key)
    if (row == null) throw new Error(`no Stored-here row for ${key}`)
    return row
  }
}
