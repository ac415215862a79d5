import { readFile } from 'node:fs/promises'
import { expect } from '@playwright/test'
import type { Locator, Page } from '@playwright/test'

/** A crawl of a few tabs takes 1-3 s; the first click also loads the panel's chunk. */
const CRAWL_TIMEOUT_MS = 60_000
const HOLDERS_TIMEOUT_MS = 30_000

export type CrawlState = 'idle' | 'running' | 'done' | 'cancelled' | 'failed'
export type MapNodeKind = 'self' | 'tab' | 'relay' | 'other'
export type MapNodeStatus = 'self' | 'crawled' | 'unreachable' | 'skipped'
/** holds: the highest sequence seen; stale: a lower one; none: no record; invalid: refused by the validator. */
export type HolderState = 'holds' | 'stale' | 'none' | 'invalid' | 'unreachable'

export interface MapNode { peer: string, kind: MapNodeKind, status: MapNodeStatus, tableSize: number }
export interface CrawlCountsShown { crawled: number, found: number, unreachable: number, requests: number }
export interface KeyHolderShown { peer: string, state: HolderState, sequence?: string, /** The row's note, e.g. why the node could not be asked. */ note: string }

/**
 * The Network map panel of one tab, driven through its UI: role and label locators for
 * controls, data-* attributes only for the crawled state each row shows.
 */
export class MapPanel {
  readonly page: Page

  constructor (page: Page) {
    this.page = page
  }

  get panel (): Locator { return this.page.getByRole('region', { name: 'Network map', exact: true }) }
  get crawlButton (): Locator { return this.panel.getByRole('button', { name: 'Crawl', exact: true }) }
  get cancelButton (): Locator { return this.panel.getByRole('button', { name: 'Cancel crawl', exact: true }) }
  get repeatToggle (): Locator { return this.panel.getByRole('checkbox', { name: 'Repeat every', exact: true }) }
  get repeatInterval (): Locator { return this.panel.getByRole('spinbutton', { name: 'Repeat interval in seconds', exact: true }) }
  /** The crawl's state line; `data-state` is one of CrawlState. */
  get crawlState (): Locator { return this.panel.getByRole('status', { name: 'Crawl state', exact: true }) }
  get alert (): Locator { return this.panel.getByRole('alert') }
  get ring (): Locator { return this.panel.getByRole('img', { name: /^Network map ring/ }) }
  get edgesToggle (): Locator { return this.panel.getByRole('checkbox', { name: 'Show routing-table edges', exact: true }) }
  get nodeList (): Locator { return this.panel.getByRole('list', { name: 'Nodes on the map', exact: true }) }
  get nodeButtons (): Locator { return this.nodeList.getByRole('button') }
  get nodeDetails (): Locator { return this.panel.getByRole('region', { name: 'Chosen node', exact: true }) }
  get keyField (): Locator { return this.panel.getByLabel('Key to look at', { exact: true }) }
  get findHoldersButton (): Locator { return this.panel.getByRole('button', { name: 'Find holders', exact: true }) }
  get holderList (): Locator { return this.panel.getByRole('list', { name: 'Closest nodes to the key', exact: true }) }
  get lookupSelect (): Locator { return this.panel.getByLabel('Lookup to replay', { exact: true }) }
  get stepBackButton (): Locator { return this.panel.getByRole('button', { name: 'Step back', exact: true }) }
  get stepButton (): Locator { return this.panel.getByRole('button', { name: 'Step forward', exact: true }) }
  get playButton (): Locator { return this.panel.getByRole('button', { name: /^(Play|Pause)$/ }) }
  get replayStep (): Locator { return this.panel.getByRole('status', { name: 'Replay step', exact: true }) }
  get exportButton (): Locator { return this.panel.getByRole('button', { name: 'Export JSON', exact: true }) }
  get importInput (): Locator { return this.panel.getByLabel('Import JSON', { exact: true }) }

  /** The count shown while and after a crawl runs. */
  count (name: 'Crawled' | 'Found' | 'Unreachable' | 'Requests'): Locator { return this.panel.getByRole('status', { name, exact: true }) }
  nodeButton (peerId: string): Locator { return this.nodeList.locator(`[data-peer="${peerId}"]`) }

  /** Brings the panel into view and waits until its chunk has loaded (the Crawl button is there). */
  async open (): Promise<void> {
    await this.panel.scrollIntoViewIfNeeded()
    await expect(this.crawlButton).toBeVisible({ timeout: CRAWL_TIMEOUT_MS })
  }

  /** Clicks Crawl and waits for the crawl to end; throws with the alert's text if it failed. */
  async crawl (timeout = CRAWL_TIMEOUT_MS): Promise<CrawlState> {
    await this.open()
    await this.crawlButton.click()
    return await this.waitForCrawlEnd(timeout)
  }

  /** Waits until the crawl state is done, cancelled or failed (failed throws). */
  async waitForCrawlEnd (timeout = CRAWL_TIMEOUT_MS): Promise<CrawlState> {
    await expect(this.crawlState).toHaveAttribute('data-state', /^(done|cancelled|failed)$/, { timeout })
    const state = await this.crawlState.getAttribute('data-state') as CrawlState
    if (state === 'failed') throw new Error(`crawl failed: ${await this.alert.allTextContents().then(texts => texts.join(' | '))}`)
    return state
  }

  async counts (): Promise<CrawlCountsShown> {
    const read = async (name: 'Crawled' | 'Found' | 'Unreachable' | 'Requests'): Promise<number> => Number((await this.count(name).textContent() ?? '').trim())
    return { crawled: await read('Crawled'), found: await read('Found'), unreachable: await read('Unreachable'), requests: await read('Requests') }
  }

  /** Every node of the map as its button in the node list describes it. */
  async nodes (): Promise<MapNode[]> {
    return await this.nodeButtons.evaluateAll(buttons => buttons.map(button => ({
      peer: button.getAttribute('data-peer') ?? '',
      kind: button.getAttribute('data-kind') as MapNodeKind,
      status: button.getAttribute('data-status') as MapNodeStatus,
      tableSize: Number(button.getAttribute('data-table-size'))
    })))
  }

  /** Chooses a node and returns its reconstructed routing table (peer IDs, sorted) as its buckets show it. */
  async nodeTable (peerId: string): Promise<string[]> {
    await this.nodeButton(peerId).click()
    await expect(this.nodeDetails).toHaveAttribute('data-peer', peerId)
    const peers = await this.nodeDetails.locator('[data-testid="map-bucket-peer"]').evaluateAll(chips => chips.map(chip => chip.getAttribute('data-peer') ?? ''))
    return peers.sort()
  }

  /** Types a key, clicks Find holders and returns the k closest crawled nodes with what each holds. */
  async holders (key: string, timeout = HOLDERS_TIMEOUT_MS): Promise<KeyHolderShown[]> {
    await this.keyField.fill(key)
    await this.findHoldersButton.click()
    await expect(this.holderList.or(this.alert).first()).toBeVisible({ timeout })
    await expect(this.holderList).toHaveAttribute('data-state', /^(done|failed)$/, { timeout })
    return await this.holderList.locator('[data-testid="key-holder"]').evaluateAll(rows => rows.map(row => ({
      peer: row.getAttribute('data-peer') ?? '',
      state: row.getAttribute('data-holder-state') as HolderState,
      ...(row.getAttribute('data-sequence') != null ? { sequence: row.getAttribute('data-sequence') ?? '' } : {}),
      note: row.textContent ?? ''
    })))
  }

  /** Clicks Export JSON and returns the parsed file. */
  async exportCrawl (): Promise<unknown> {
    const downloading = this.page.waitForEvent('download')
    await this.exportButton.click()
    const download = await downloading
    return JSON.parse(await readFile(await download.path(), 'utf8')) as unknown
  }

  /** Loads a crawl file through Import JSON. */
  async importCrawl (name: string, text: string): Promise<void> {
    await this.open()
    await this.importInput.setInputFiles({ name, mimeType: 'application/json', buffer: Buffer.from(text) })
  }
}
