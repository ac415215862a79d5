import { expect } from '@playwright/test'
import type { Locator, Page } from '@playwright/test'

export type NodeStatus = 'offline' | 'connecting' | 'online' | 'relay-lost'
export type ConnectionTransport = 'websocket' | 'relayed' | 'webrtc' | 'other'

/** Connect waits for a relay dial (10 s) and a reservation (15 s) at most. */
const CONNECT_TIMEOUT_MS = 30_000
/** A direct dial may retry up to three times; the operation's own deadline is 45 s. */
const DIRECT_DIAL_TIMEOUT_MS = 50_000
const LOOKUP_TIMEOUT_MS = 35_000

/**
 * One browser tab running webkad, driven through its UI: role and label locators for
 * controls, data-testid only for live network state.
 */
export class WebkadTab {
  readonly page: Page
  readonly appUrl: string
  /** ms from the start of goto() to the app being rendered, set by goto(). */
  loadMs?: number
  constructor (page: Page, appUrl: string) {
    this.page = page
    this.appUrl = appUrl
  }

  get bootnodeField (): Locator { return this.page.getByLabel('Bootnode multiaddr') }
  get connectButton (): Locator { return this.page.getByRole('button', { name: 'Connect', exact: true }) }
  get status (): Locator { return this.page.getByTestId('node-status') }
  get ownPeerId (): Locator { return this.page.getByTestId('own-peer-id') }
  get peerIdField (): Locator { return this.page.getByLabel('Peer ID to find') }
  get findPeerButton (): Locator { return this.page.getByRole('button', { name: 'Find peer', exact: true }) }
  get connectDirectlyButton (): Locator { return this.page.getByRole('button', { name: 'Connect directly', exact: true }) }
  get pingButton (): Locator { return this.page.getByRole('button', { name: 'Ping', exact: true }) }
  get findPanel (): Locator { return this.page.getByRole('region', { name: 'Find peer' }) }
  get findPeerResult (): Locator { return this.page.getByLabel('Find peer result') }
  get addressesFound (): Locator { return this.page.getByRole('list', { name: 'Addresses found' }) }
  get directConnectionResult (): Locator { return this.page.getByTestId('direct-connection-result') }
  get pingResult (): Locator { return this.page.getByTestId('ping-result') }
  get connectionRows (): Locator { return this.page.getByTestId('connection-row') }

  /** Opens the app and waits until it has rendered (identity loaded, bootnode field pre-filled). */
  async goto (url = this.appUrl): Promise<void> {
    const startedAt = Date.now()
    await this.page.goto(url)
    await this.waitForApp()
    this.loadMs = Date.now() - startedAt
  }

  async reload (): Promise<void> {
    await this.page.reload()
    await this.waitForApp()
  }

  private async waitForApp (): Promise<void> {
    await expect(this.ownPeerId).toHaveText(/^\S{40,}$/)
  }

  /**
   * Clicks Connect (after filling the bootnode field, if a value is given: otherwise the
   * value pre-filled from the relay's /bootstrap is used) and waits until the tab is online.
   * Returns ms from the click to online.
   */
  async connect (bootnode?: string): Promise<{ clickToOnlineMs: number }> {
    const clickedAt = await this.submitConnect(bootnode)
    await this.expectStatus('online', CONNECT_TIMEOUT_MS)
    return { clickToOnlineMs: Date.now() - clickedAt }
  }

  /** Clicks Connect without waiting for the outcome; returns the time of the click. */
  async submitConnect (bootnode?: string): Promise<number> {
    if (bootnode !== undefined) await this.bootnodeField.fill(bootnode)
    const clickedAt = Date.now()
    await this.connectButton.click()
    return clickedAt
  }

  /** Clicks Reconnect (shown instead of Connect while a node runs) and waits for online. */
  async reconnect (): Promise<void> {
    await this.page.getByRole('button', { name: 'Reconnect', exact: true }).click()
    await this.expectStatus('online', CONNECT_TIMEOUT_MS)
  }

  async expectStatus (status: NodeStatus, timeout?: number): Promise<void> {
    await expect(this.status).toHaveAttribute('data-status', status, { timeout })
  }

  async peerId (): Promise<string> {
    await this.waitForApp()
    return (await this.ownPeerId.textContent() ?? '').trim()
  }

  /**
   * Find peer through the UI, one click: a tab is Online only once its DHT is ready and the relay
   * has it in its routing table (src/p2p/network/relay-connection.ts, relay/relay-node.ts), so the
   * first click must work. Returns the addresses listed in the result.
   */
  async findPeer (peerId: string): Promise<string[]> {
    const alert = this.findPanel.getByRole('alert')
    await this.peerIdField.fill(peerId)
    await this.findPeerButton.click()
    await expect(this.findPeerResult.or(alert).first()).toBeVisible({ timeout: LOOKUP_TIMEOUT_MS })
    if (await this.findPeerResult.isVisible()) {
      return (await this.addressesFound.getByRole('listitem').allTextContents()).map(text => text.trim())
    }
    const name = await alert.first().getAttribute('data-error-name')
    throw new Error(`Find peer ${peerId} failed: ${name ?? 'unnamed error'}: ${await alert.first().textContent() ?? ''}`)
  }

  /** Clicks Find peer and leaves checking the outcome (usually an error) to the caller. */
  async submitFindPeer (peerId: string): Promise<void> {
    await this.peerIdField.fill(peerId)
    await this.findPeerButton.click()
  }

  /** "Connect directly" through the UI; returns the result text. */
  async connectDirectly (peerId: string): Promise<string> {
    await this.peerIdField.fill(peerId)
    await this.connectDirectlyButton.click()
    await expect(this.directConnectionResult).toBeVisible({ timeout: DIRECT_DIAL_TIMEOUT_MS })
    return (await this.directConnectionResult.textContent() ?? '').trim()
  }

  /** Ping through the UI; returns the round-trip time in ms. */
  async ping (peerId: string): Promise<number> {
    await this.peerIdField.fill(peerId)
    await this.pingButton.click()
    await expect(this.pingResult).toBeVisible({ timeout: 15_000 })
    const rtt = Number(await this.pingResult.getAttribute('data-rtt-ms'))
    expect(rtt, 'data-rtt-ms of the ping result').toBeGreaterThan(0)
    return rtt
  }

  /** The alert of a failed operation with this error name. */
  error (name: string): Locator {
    return this.page.getByRole('alert').and(this.page.locator(`[data-error-name="${name}"]`))
  }

  /** Waits for an alert with this error name; on failure, says which alerts were shown instead. */
  async expectError (name: string, timeout?: number): Promise<void> {
    try {
      await expect(this.error(name)).toBeVisible({ timeout })
    } catch (err) {
      const shown = await this.page.getByRole('alert').evaluateAll(alerts =>
        alerts.map(alert => `${alert.getAttribute('data-error-name') ?? '(no data-error-name)'}: ${alert.textContent ?? ''}`))
      throw new Error(`expected an alert with data-error-name="${name}"; alerts shown: ${shown.length === 0 ? 'none' : shown.join(' | ')}`, { cause: err })
    }
  }

  /** Rows of the connections table, optionally only those to one peer / over one transport. */
  connectionRow (peerId?: string, transport?: ConnectionTransport): Locator {
    let selector = '[data-testid="connection-row"]'
    if (peerId != null) selector += `[data-peer="${peerId}"]`
    if (transport != null) selector += `[data-transport="${transport}"]`
    return this.page.locator(selector)
  }
}
