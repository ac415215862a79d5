import { expect } from '@playwright/test'
import type { Download, Locator, Page } from '@playwright/test'

/** A Put or Get walks the DHT (Put reads the current sequence first): allow a slow machine. */
const DHT_OPERATION_TIMEOUT_MS = 35_000

export type QueryOperation = 'put' | 'get' | 'find-peer' | 'closest-peers' | 'replicate'
export type QueryStatus = 'running' | 'done' | 'failed' | 'cancelled'

/**
 * The DHT panels of one tab (Put / Get, Routing table, Lookups), driven through the UI: role
 * and label locators for controls, data-testid only for live network state (routing-table
 * chips, lookup rows).
 */
export class DhtPanel {
  readonly page: Page

  constructor (page: Page) {
    this.page = page
  }

  get putGetPanel (): Locator { return this.page.getByRole('region', { name: 'Put / Get', exact: true }) }
  get keyField (): Locator { return this.putGetPanel.getByLabel('Key', { exact: true }) }
  get valueField (): Locator { return this.putGetPanel.getByLabel('Value', { exact: true }) }
  get quorumField (): Locator { return this.putGetPanel.getByLabel('Quorum', { exact: true }) }
  get putButton (): Locator { return this.putGetPanel.getByRole('button', { name: 'Put', exact: true }) }
  get getButton (): Locator { return this.putGetPanel.getByRole('button', { name: 'Get', exact: true }) }
  get closestPeersButton (): Locator { return this.putGetPanel.getByRole('button', { name: 'Closest peers', exact: true }) }
  get cancelButton (): Locator { return this.putGetPanel.getByRole('button', { name: 'Cancel', exact: true }) }
  get putResult (): Locator { return this.page.getByRole('region', { name: 'Put result', exact: true }) }
  get getResult (): Locator { return this.page.getByRole('region', { name: 'Get result', exact: true }) }
  /** Alerts of the Put / Get panel only (other panels show their own). */
  get alert (): Locator { return this.putGetPanel.getByRole('alert') }

  /** Peers listed in the Put result as having stored the record (full IDs, from the titles). */
  get acceptedPeers (): Locator { return this.putResult.getByRole('list', { name: 'Peers that stored the record' }).getByRole('listitem') }
  /** Peers listed in the Get result as having returned the winning record. */
  get holders (): Locator { return this.getResult.getByRole('list', { name: 'Peers that returned the record' }).getByRole('listitem') }
  get valueFound (): Locator { return this.getResult.getByLabel('Value found', { exact: true }) }

  /** A fact of the Get result (`Author`, `Sequence`, `Lookup`…): the <dd> next to its <dt>. */
  getFact (name: string): Locator {
    return this.getResult.locator('dl > div')
      .filter({ has: this.page.getByRole('term').filter({ hasText: new RegExp(`^${name}$`) }) })
      .getByRole('definition')
  }

  /** Fills the form and clicks Put; does not wait for the outcome. */
  async submitPut (key: string, value: string): Promise<void> {
    await this.keyField.fill(key)
    await this.valueField.fill(value)
    await this.putButton.click()
  }

  /** Fills the key (and quorum, if given) and clicks Get; does not wait for the outcome. */
  async submitGet (key: string, quorum?: number): Promise<void> {
    await this.keyField.fill(key)
    if (quorum !== undefined) await this.quorumField.fill(String(quorum))
    await this.getButton.click()
  }

  /** Put through the UI; waits for the Put result (throws with the alert's text on an error). */
  async put (key: string, value: string): Promise<Locator> {
    await this.submitPut(key, value)
    await this.waitForOutcome(this.putResult, `Put ${key}`)
    return this.putResult
  }

  /** Get through the UI; waits for the Get result (throws with the alert's text on an error). */
  async get (key: string, quorum?: number): Promise<Locator> {
    await this.submitGet(key, quorum)
    await this.waitForOutcome(this.getResult, `Get ${key}`)
    return this.getResult
  }

  /** Waits for the Put / Get panel's alert with this error name (and reason, if given). */
  async expectError (name: string, options: { reason?: string, message?: RegExp, timeout?: number } = {}): Promise<Locator> {
    const alert = this.alert.and(this.page.locator(`[data-error-name="${name}"]`))
    try {
      await expect(alert).toBeVisible({ timeout: options.timeout ?? DHT_OPERATION_TIMEOUT_MS })
    } catch (err) {
      throw new Error(`expected a Put / Get alert named ${name}; shown instead: ${await this.describeAlerts()}`, { cause: err })
    }
    if (options.reason !== undefined) await expect(alert).toHaveAttribute('data-error-reason', options.reason)
    if (options.message !== undefined) await expect(alert).toHaveText(options.message)
    return alert
  }

  /** Routing-table chips, optionally only the one of a peer. */
  routingPeers (peerId?: string): Locator {
    return this.page.locator(peerId == null ? '[data-testid="routing-peer"]' : `[data-testid="routing-peer"][data-peer="${peerId}"]`)
  }

  /** Peer IDs of all routing-table chips with the CPL each chip is listed under. */
  async routingTable (): Promise<Array<{ peer: string, cpl: number }>> {
    return await this.routingPeers().evaluateAll(chips => chips.map(chip => ({
      peer: chip.getAttribute('data-peer') ?? '',
      cpl: Number(chip.getAttribute('data-cpl'))
    })))
  }

  /** Rows of the Lookups list, optionally of one operation / status / label (the key as shown). */
  lookupRows (filter: { operation?: QueryOperation, status?: QueryStatus, label?: string } = {}): Locator {
    let selector = '[data-testid="query-trace"]'
    if (filter.operation != null) selector += `[data-operation="${filter.operation}"]`
    if (filter.status != null) selector += `[data-status="${filter.status}"]`
    const rows = this.page.locator(selector)
    if (filter.label == null) return rows
    return rows.filter({ has: this.page.getByTitle(filter.label, { exact: true }) })
  }

  /** The toggle (button) that expands or collapses a lookup row. */
  lookupToggle (row: Locator): Locator {
    return row.getByRole('button').first()
  }

  /** Clicks Export JSON in an expanded lookup row and returns the download. */
  async exportTrace (row: Locator): Promise<Download> {
    const downloaded = this.page.waitForEvent('download')
    await row.getByRole('button', { name: 'Export JSON', exact: true }).click()
    return await downloaded
  }

  private async waitForOutcome (result: Locator, what: string): Promise<void> {
    await expect(result.or(this.alert).first()).toBeVisible({ timeout: DHT_OPERATION_TIMEOUT_MS })
    if (await result.isVisible()) return
    throw new Error(`${what} failed: ${await this.describeAlerts()}`)
  }

  private async describeAlerts (): Promise<string> {
    const shown = await this.alert.evaluateAll(alerts => alerts.map(alert =>
      `${alert.getAttribute('data-error-name') ?? '(no data-error-name)'}[${alert.getAttribute('data-error-reason') ?? ''}]: ${alert.textContent ?? ''}`))
    return shown.length === 0 ? 'no alert' : shown.join(' | ')
  }

  /** The Put or Get result that names this key (`name` or `/webkad/name`), not an earlier one still shown. */
  resultFor (kind: 'put' | 'get', key: string): Locator {
    const fullKey = key.startsWith('/webkad/') ? key : `/webkad/${key}`
    const exactKey = new RegExp(`^${fullKey.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`)
    return (kind === 'put' ? this.putResult : this.getResult).filter({ has: this.page.locator('code', { hasText: exactKey }) })
  }

  /**
   * Put through the UI and wait for the result of this very key (a tab that put before may
   * still show its previous result when the click lands); returns the sequence stored.
   */
  async putValue (key: string, value: string): Promise<number> {
    await this.submitPut(key, value)
    const result = this.resultFor('put', key)
    await this.waitForOutcome(result, `Put ${key}`)
    const sequence = /as sequence (\d+) in/.exec(await result.textContent() ?? '')?.[1]
    if (sequence == null) throw new Error(`Put ${key}: no sequence in the result`)
    return Number(sequence)
  }

  /** Get through the UI and wait for the result of this very key; returns the value found. */
  async getValue (key: string, quorum?: number): Promise<string> {
    await this.submitGet(key, quorum)
    const result = this.resultFor('get', key)
    await this.waitForOutcome(result, `Get ${key}`)
    return await result.getByLabel('Value found', { exact: true }).textContent() ?? ''
  }
}
