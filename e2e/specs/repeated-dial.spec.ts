import { test, expect } from '../fixtures/test.ts'
import { closeWebRTCConnections } from '../../test/harness/webrtc-connections.ts'
import type { WebkadTab } from '../pages/webkad-tab.ts'

const DIALS = 20
/** The webrtc dial-race patch (patches/@libp2p+webrtc+*.patch) should make retries rare. */
const MAX_DIALS_NEEDING_A_RETRY = 2
/** A dial that found a WebRTC connection opened in the background (DHT traffic) is redone. */
const MAX_REDOS_PER_DIAL = 3

interface DialRecord {
  ok: boolean
  durationMs: number
  attempts: number
  reused: boolean
  /** The connection dialDirect returned, and whether the tab holds it as an open, unlimited WebRTC connection to the peer. */
  remoteAddr?: string
  isOpenWebRTCToPeer?: boolean
  error?: string
}

async function dialDirect (tab: WebkadTab, peer: string): Promise<DialRecord> {
  return await tab.page.evaluate(async (peer): Promise<DialRecord> => {
    const session = window.webkad?.session
    if (session == null) throw new Error('window.webkad is missing')
    const startedAt = performance.now()
    try {
      const result = await session.dialDirect(peer)
      const isOpenWebRTCToPeer = (window.webkad?.node?.getConnections() ?? []).some(connection =>
        connection.remoteAddr.toString() === result.remoteAddr && connection.remotePeer.toString() === peer &&
        connection.remoteAddr.toString().includes('/webrtc') && connection.status === 'open' && connection.limits == null)
      return { ok: true, durationMs: result.durationMs, attempts: result.attempts, reused: result.reused, remoteAddr: result.remoteAddr, isOpenWebRTCToPeer }
    } catch (err) {
      return { ok: false, durationMs: performance.now() - startedAt, attempts: 0, reused: false, error: `${(err as Error).name}: ${(err as Error).message}` }
    }
  }, peer)
}

function percentile (sorted: number[], p: number): number {
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))
  return sorted[index] as number
}

test(`${DIALS} consecutive tab-to-tab WebRTC dials all succeed, nearly all on the first attempt`, async ({ openTab }) => {
  const tab2 = await openTab()
  const tab3 = await openTab()
  await Promise.all([tab2.connect(), tab3.connect()])
  const id2 = await tab2.peerId()
  const id3 = await tab3.peerId()
  // Learn tab 2's addresses once, through the DHT, as a user would.
  await tab3.findPeer(id2)

  const dials: DialRecord[] = []
  let redone = 0
  let aborted = 0
  for (let i = 1; i <= DIALS; i++) {
    let record: DialRecord | undefined
    for (let run = 0; run <= MAX_REDOS_PER_DIAL; run++) {
      // Close both ends: the remote end of a closed WebRTC connection can linger for seconds.
      const closed = [await closeWebRTCConnections(tab3, id2), await closeWebRTCConnections(tab2, id3)]
      aborted += closed.reduce((sum, { aborted }) => sum + aborted, 0)
      record = await dialDirect(tab3, id2)
      // A connection DHT traffic opened in the background meanwhile is reused: not a dial, redo it.
      if (!record.reused) break
      redone++
    }
    dials.push(record as DialRecord)
  }

  const succeeded = dials.filter(dial => dial.ok)
  const durations = succeeded.map(dial => dial.durationMs).sort((a, b) => a - b)
  const retried = dials.filter(dial => dial.attempts > 1).length
  console.log(`webrtc dials: n=${DIALS} ok=${succeeded.length} median=${Math.round(percentile(durations, 0.5))}ms p90=${Math.round(percentile(durations, 0.9))}ms retries=${retried}`)
  console.log(`webrtc dial attempts: ${dials.map(dial => dial.ok ? String(dial.attempts) : 'x').join(' ')}; redone after a background connection: ${redone}; close() failed, aborted: ${aborted}`)

  expect(dials.filter(dial => !dial.ok).map(dial => dial.error), 'failed dials').toEqual([])
  expect(dials.filter(dial => dial.reused), `dials that kept finding a background WebRTC connection (${MAX_REDOS_PER_DIAL} redos)`).toEqual([])
  expect(dials.filter(dial => dial.isOpenWebRTCToPeer !== true).map(dial => dial.remoteAddr), 'dials that did not return an open WebRTC connection to tab 2').toEqual([])
  expect(retried, 'dials that needed more than one attempt').toBeLessThanOrEqual(MAX_DIALS_NEEDING_A_RETRY)
  await expect(tab3.connectionRow(id2, 'webrtc')).not.toHaveCount(0)
})
