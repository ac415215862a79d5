import { test, expect } from '@playwright/test'
import { DISABLE_FEATURES_ARG, HOST_RESOLVER_RULES_ARG } from '../../test/harness/browser-flags.ts'

/**
 * Guards the launch flags the other specs rely on: exactly one --disable-features (Chromium
 * honours only one; a Playwright upgrade that changes its own list would leave two), real IPs in
 * ICE host candidates, and no name resolution beyond loopback.
 */
test('Chromium runs with one combined --disable-features and no mDNS host candidates', async ({ page }) => {
  await page.goto('chrome://version')
  const commandLine = await page.locator('#command_line').textContent() ?? ''
  const argv = commandLine.split(/\s+(?=--)/)

  const disableFeatures = argv.filter(arg => arg.startsWith('--disable-features='))
  expect(disableFeatures, 'update PLAYWRIGHT_DISABLED_FEATURES in test/harness/browser-flags.ts to the list of this Playwright version').toEqual([DISABLE_FEATURES_ARG])
  expect(argv).toContain(HOST_RESOLVER_RULES_ARG)

  await page.goto('about:blank')
  const candidates = await page.evaluate(async () => {
    const pc = new RTCPeerConnection({ iceServers: [] })
    pc.createDataChannel('probe')
    const found: string[] = []
    const done = new Promise<void>((resolve) => {
      pc.onicecandidate = (event) => {
        if (event.candidate == null) resolve()
        else found.push(event.candidate.candidate)
      }
    })
    await pc.setLocalDescription(await pc.createOffer())
    await Promise.race([done, new Promise(resolve => setTimeout(resolve, 5000))])
    pc.close()
    return found
  })
  expect(candidates.length, 'ICE host candidates gathered').toBeGreaterThan(0)
  expect(candidates.filter(candidate => candidate.includes('.local')), 'mDNS-obfuscated candidates').toEqual([])
})

test('the browser resolves no host names beyond loopback', async ({ page }) => {
  await page.setContent('<p>dns</p>')
  const outcome = await page.evaluate(async () => {
    try {
      await fetch('http://example.com/', { mode: 'no-cors', signal: AbortSignal.timeout(5000) })
      return 'fetched'
    } catch (err) {
      return (err as Error).name
    }
  })
  expect(outcome).toBe('TypeError')
})
