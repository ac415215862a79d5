import { test, expect } from '../fixtures/test.ts'
import { formatSoak, runSoak, SOAK_CRITERIA } from '../soak/soak-loop.ts'

/**
 * The short soak: the loop of `npm run soak` (e2e/soak/soak-loop.ts) for about a minute with
 * the same criteria. Tabs (each its own browser context) join, chat with every other tab, put
 * and get records and leave, while a long-lived tab stays; the relay must not grow, free every
 * reservation, and no tab may keep RTCPeerConnections to tabs that left.
 */

/** Rounds start until this much time has passed (fill included); 3-5 rounds here. */
const SOAK_MS = 50_000

test('soak: tabs join, chat, put/get and leave in a loop; nothing lost, leaked or stuck', async ({ browser }, testInfo) => {
  // Relay start and fill ~10 s, rounds ~12-15 s each (≈7 s of it waiting for tabs to drop a
  // departed peer's WebRTC connection), up to 5 rounds; on a loaded machine each step is slower.
  test.setTimeout(200_000)
  const result = await runSoak({
    browser,
    durationMs: SOAK_MS,
    minRounds: 3,
    maxRounds: 5,
    poolSize: 4,
    warmupRounds: 1,
    messagesPerPair: 2,
    log: line => { console.log(line) }
  })
  console.log(formatSoak(result))
  await testInfo.attach('soak-result.json', { body: JSON.stringify(result, null, 2), contentType: 'application/json' })

  expect(result.failures, 'failures during the soak').toEqual([])
  for (const check of result.checks) {
    expect.soft(check.pass, `${check.criterion}: ${check.value} (bound ${check.bound})`).toBe(true)
  }
  // The figures behind the checks, asserted directly as well.
  const { figures } = result
  expect(figures.rounds).toBeGreaterThanOrEqual(3)
  expect(figures.tabsLeft).toBe(figures.rounds)
  expect(figures.chat.sent).toBeGreaterThan(0)
  expect(figures.chat.delivered).toBe(figures.chat.sent)
  expect(figures.chat.duplicated).toBe(0)
  expect(figures.dht.getsOk).toBe(figures.dht.gets)
  expect(figures.reservations.stuck).toBe(0)
  expect(figures.rtc.violations).toBe(0)
  expect(figures.relayRssMB.growth).toBeLessThanOrEqual(SOAK_CRITERIA.maxRelayRssGrowthMB)
  expect(figures.relayRssMB.heapEnd - figures.relayRssMB.heapAfterWarmup).toBeLessThanOrEqual(SOAK_CRITERIA.maxRelayHeapGrowthMB)
  expect(result.passed).toBe(true)
})
