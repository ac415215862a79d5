/**
 * Section 1: fresh tab-to-tab WebRTC connections through the relay (session.dialDirect, the
 * "Connect directly" path) against a bare RTCPeerConnection pair set up inside one page.
 */
import { closeWebRTCConnections } from '../../test/harness/webrtc-connections.ts'
import { findPeerWithRetry, sleep, withWorld } from '../lib/browser-harness.ts'
import { ratio, round, summarize } from '../lib/stats.ts'
import type { BrowserBenchOptions, BenchTab } from '../lib/browser-harness.ts'
import type { BenchSection } from '../lib/types.ts'
import type { Page } from 'playwright-core'

/** The stock js-libp2p browser recipe on this machine (../shared/notes/anchors.md). */
const STOCK_RECIPE_DIAL_MEDIAN_MS = 109
const GOAL_P50_MS = 100
const WARMUP_DIALS = 2
/** A dial that found a connection opened in the background is redone, at most this often. */
const MAX_REDOS = 3
/**
 * Dials start at least this far apart. The tabs' connection managers accept 5 inbound
 * connections per second per host (libp2p default), and each dial may open a relayed
 * connection besides the WebRTC one.
 */
const MIN_DIAL_SPACING_MS = 300

interface DialRecord {
  ok: boolean
  durationMs: number
  attempts: number
  reused: boolean
  error?: string
  /** Phases seen from the dialer's RTCPeerConnection (ms), when exactly one was created. */
  phases?: DialPhases
}

/** Where a dial's time goes, from the dialer's RTCPeerConnection events. */
interface DialPhases {
  /** Dial start → RTCPeerConnection created: address lookup, relayed signalling stream. */
  signallingSetup: number
  /** → ICE connected: SDP offer/answer and candidates through the relay, ICE checks. */
  ice: number
  /** → connectionState connected: DTLS handshake. */
  dtls: number
  /** → dial resolved: SCTP, data channel open, libp2p connection upgrade. */
  upgrade: number
}

interface PeerConnectionMarks { created: number, iceConnected?: number, connected?: number }

declare global {
  interface Window { __webkadPeerConnections?: PeerConnectionMarks[] }
}

/**
 * Init script: wraps RTCPeerConnection (before @libp2p/webrtc captures it) to note when each
 * one is created, ICE-connected and connected.
 */
function recordPeerConnections (): void {
  const Original = window.RTCPeerConnection
  const marks: PeerConnectionMarks[] = []
  window.__webkadPeerConnections = marks
  window.RTCPeerConnection = class extends Original {
    constructor (configuration?: RTCConfiguration) {
      super(configuration)
      const entry: PeerConnectionMarks = { created: performance.now() }
      marks.push(entry)
      this.addEventListener('iceconnectionstatechange', () => {
        if (this.iceConnectionState === 'connected' || this.iceConnectionState === 'completed') entry.iceConnected ??= performance.now()
      })
      this.addEventListener('connectionstatechange', () => {
        if (this.connectionState === 'connected') entry.connected ??= performance.now()
      })
    }
  }
}

async function dialDirect (tab: BenchTab, peer: string): Promise<DialRecord> {
  return await tab.page.evaluate(async (peer): Promise<DialRecord> => {
    const session = window.webkad?.session
    if (session == null) throw new Error('window.webkad is missing')
    const marks = window.__webkadPeerConnections ?? []
    const before = marks.length
    const startedAt = performance.now()
    try {
      const result = await session.dialDirect(peer)
      const endedAt = performance.now()
      const created = marks.slice(before)
      const pc = created[0]
      const phases = created.length === 1 && pc?.iceConnected != null && pc.connected != null
        ? { signallingSetup: pc.created - startedAt, ice: pc.iceConnected - pc.created, dtls: pc.connected - pc.iceConnected, upgrade: endedAt - pc.connected }
        : undefined
      return { ok: true, durationMs: result.durationMs, attempts: result.attempts, reused: result.reused, ...(phases != null ? { phases } : {}) }
    } catch (err) {
      return { ok: false, durationMs: performance.now() - startedAt, attempts: 0, reused: false, error: `${(err as Error).name}: ${(err as Error).message}` }
    }
  }, peer)
}

/**
 * Time from `new RTCPeerConnection` to the offerer's data channel being open, for two peer
 * connections in one page exchanging SDP and candidates directly (no signalling server).
 */
export async function bareSetupTimes (page: Page, runs: number): Promise<number[]> {
  return await page.evaluate(async (runs) => {
    const times: number[] = []
    for (let run = 0; run < runs; run++) {
      const startedAt = performance.now()
      const offerer = new RTCPeerConnection({ iceServers: [] })
      const answerer = new RTCPeerConnection({ iceServers: [] })
      offerer.onicecandidate = (event) => { if (event.candidate != null) void answerer.addIceCandidate(event.candidate) }
      answerer.onicecandidate = (event) => { if (event.candidate != null) void offerer.addIceCandidate(event.candidate) }
      const channel = offerer.createDataChannel('bench')
      const open = new Promise<void>((resolve, reject) => {
        channel.onopen = () => { resolve() }
        setTimeout(() => { reject(new Error('bare data channel did not open within 10 s')) }, 10_000)
      })
      await offerer.setLocalDescription(await offerer.createOffer())
      await answerer.setRemoteDescription(offerer.localDescription as RTCSessionDescription)
      await answerer.setLocalDescription(await answerer.createAnswer())
      await offerer.setRemoteDescription(answerer.localDescription as RTCSessionDescription)
      await open
      times.push(performance.now() - startedAt)
      offerer.close()
      answerer.close()
      await new Promise(resolve => setTimeout(resolve, 20))
    }
    return times
  }, runs)
}

export async function runConnectionSetup (options: BrowserBenchOptions): Promise<BenchSection> {
  const dials = options.quick ? 20 : 50
  const bareRuns = options.quick ? 20 : 50
  return await withWorld(options, async (world) => {
    await world.context.addInitScript(recordPeerConnections)
    // No background tasks: auto-dial would open the very connection under test.
    const [dialer, listener] = await Promise.all([world.openTab({ query: 'scheduler=off' }), world.openTab({ query: 'scheduler=off' })]) as [BenchTab, BenchTab]
    await findPeerWithRetry(dialer, listener.peerId)

    const records: DialRecord[] = []
    let redone = 0
    let aborted = 0
    for (let index = 0; index < WARMUP_DIALS + dials; index++) {
      let record: DialRecord | undefined
      for (let run = 0; run <= MAX_REDOS; run++) {
        aborted += (await closeWebRTCConnections(dialer, listener.peerId)).aborted
        aborted += (await closeWebRTCConnections(listener, dialer.peerId)).aborted
        const startedAt = Date.now()
        record = await dialDirect(dialer, listener.peerId)
        const spacing = MIN_DIAL_SPACING_MS - (Date.now() - startedAt)
        if (spacing > 0) await sleep(spacing)
        if (!record.reused) break
        redone++
      }
      if (index >= WARMUP_DIALS) records.push(record as DialRecord)
    }

    const bare = summarize(await bareSetupTimes(dialer.page, bareRuns))
    const ok = records.filter(record => record.ok && !record.reused)
    const failed = records.filter(record => !record.ok)
    const stats = summarize(ok.map(record => record.durationMs))
    const retried = ok.filter(record => record.attempts > 1).length
    const bareLabel = 'bare RTCPeerConnection pair in one page, same run'
    const phased = ok.flatMap(record => record.phases != null ? [record.phases] : [])
    const phase = (pick: (phases: DialPhases) => number): number => round(summarize(phased.map(pick)).p50)
    const phaseText = phased.length === 0
      ? 'no phase breakdown (no dial created exactly one RTCPeerConnection)'
      : `where a dial's time goes (p50 of ${phased.length} dials): address lookup + relayed signalling stream ${phase(p => p.signallingSetup)} ms, SDP/candidates through the relay + ICE ${phase(p => p.ice)} ms, DTLS ${phase(p => p.dtls)} ms, SCTP + data channel + libp2p upgrade ${phase(p => p.upgrade)} ms`

    const row = (metric: string, value: number, baseline: number, goal?: { text: string, met: boolean }, note?: string): BenchSection['rows'][number] => ({
      metric,
      value: round(value),
      unit: 'ms',
      baseline: round(baseline),
      baselineLabel: bareLabel,
      ratio: round(ratio(value, baseline) ?? Number.NaN),
      ...(goal != null ? { goal: goal.text, met: goal.met } : {}),
      ...(note != null ? { note } : {})
    })
    return {
      title: `Connection setup: tab-to-tab WebRTC through the relay (${dials} fresh dials)`,
      rows: [
        row('dial p50', stats.p50, bare.p50, { text: `≤ ${GOAL_P50_MS} ms`, met: stats.p50 <= GOAL_P50_MS }, phaseText),
        row('dial p90', stats.p90, bare.p90),
        row('dial p99', stats.p99, bare.p99, undefined, `max ${round(stats.max)} ms, min ${round(stats.min)} ms`),
        {
          metric: 'failed dials',
          value: failed.length,
          unit: `of ${records.length}`,
          goal: '0',
          met: failed.length === 0,
          note: failed.length === 0
            ? `${retried} dial(s) needed a retry inside dialDirect`
            : `${retried} retried; errors: ${[...new Set(failed.map(record => record.error))].join('; ')}`
        },
        {
          metric: 'dial p50 vs the stock libp2p recipe',
          value: round(stats.p50),
          unit: 'ms',
          baseline: STOCK_RECIPE_DIAL_MEDIAN_MS,
          baselineLabel: 'stock js-libp2p browser recipe median, recorded anchor (not this run)',
          ratio: round(ratio(stats.p50, STOCK_RECIPE_DIAL_MEDIAN_MS) ?? Number.NaN),
          goal: `< ${STOCK_RECIPE_DIAL_MEDIAN_MS} ms`,
          met: stats.p50 < STOCK_RECIPE_DIAL_MEDIAN_MS
        }
      ],
      notes: [
        'Dial = session.dialDirect() in the dialing tab (the "Connect directly" code path: peer-store lookup, SDP offer/answer and ICE candidates signalled over a relayed libp2p stream, ICE, DTLS, SCTP, data-channel muxer), timed in the page.',
        `Before every dial both tabs close all WebRTC connections to each other and drop kad-dht keep-alive tags; ${WARMUP_DIALS} warm-up dials are not counted; dials start ≥ ${MIN_DIAL_SPACING_MS} ms apart (libp2p's 5 inbound connections/s per host). Tabs run with ?scheduler=off so no background task opens the connection under test${redone > 0 ? `; ${redone} dial(s) were redone because a connection already existed` : ''}${aborted > 0 ? `; ${aborted} close() call(s) had to abort` : ''}.`,
        `Baseline: two RTCPeerConnections (iceServers []) in the dialing tab exchanging SDP and candidates in-page, ${bare.n} runs; time from construction to the offerer's data channel "open". It has no signalling round trips, so it is a floor, not a like-for-like competitor.`,
        'Phases come from an init script that wraps RTCPeerConnection in the dialing tab and notes when it is created, ICE-connected and connected (DTLS).',
        ...world.pageErrors.map(error => `page error: ${error}`)
      ]
    }
  })
}
