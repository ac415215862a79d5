/**
 * Section 2: a libp2p stream between two tabs over their direct WebRTC connection (webkad's
 * stream path: @libp2p/webrtc opens one RTCDataChannel per stream and frames every write as a
 * length-prefixed protobuf; no noise or yamux on this path, DTLS encrypts) against a bare
 * RTCDataChannel between the same two tabs.
 *
 * The echo and sink protocols are registered in the page with node.handle(): a bench harness,
 * not part of the app.
 */
import { findPeerWithRetry, settledDirectConnection, withWorld } from '../lib/browser-harness.ts'
import { profileMainThreads } from '../lib/cpu-profile.ts'
import { median, ratio, round, summarize } from '../lib/stats.ts'
import type { BenchTab, BrowserBenchOptions } from '../lib/browser-harness.ts'
import type { MainThreadShare } from '../lib/cpu-profile.ts'
import type { BenchRow, BenchSection } from '../lib/types.ts'
import type { Connection, Stream } from '@libp2p/interface'

const ECHO_PROTOCOL = '/webkad-bench/echo/1.0.0'
const SINK_PROTOCOL = '/webkad-bench/sink/1.0.0'
const CHUNK_BYTES = 16 * 1024
const ROUND_TRIPS = 500
const WARMUP_ROUND_TRIPS = 20
/** Throughput runs per variant (full / quick), interleaved so load changes hit all variants alike. */
const THROUGHPUT_RUNS = { full: 5, quick: 3 }
/** @libp2p/webrtc's write buffer cap (MAX_BUFFERED_AMOUNT): the bare sender uses the same cap. */
const HIGH_WATER_BYTES = 2 * 1024 * 1024
/** Payload bytes per message of unpatched @libp2p/webrtc (16 KiB minus its framing), for the diagnostic. */
const UNPATCHED_MAX_PAYLOAD = 16_377
/** The bare sender resumes at this bufferedAmount (bufferedAmountLowThreshold). */
const BARE_LOW_WATER_BYTES = 1024 * 1024
const GOAL_RTT_P50_MS = 2
const GOAL_THROUGHPUT_RATIO = 0.8
/** The stock recipe's WebRTC upload on this machine (../shared/notes/anchors.md). */
const STOCK_RECIPE_UPLOAD = '148-217'

/** State the bench keeps in each page. */
interface PageBenchState {
  /** Bytes the sink (libp2p or bare) expects before it acks. */
  expect: number
  bareChannel?: RTCDataChannel
  barePeer?: RTCPeerConnection
  bareMode: 'echo' | 'sink'
  /** Messages the receiving side handled in the last sink run. */
  sinkMessages: number
  /** How the receiver's last sink stream ended (for error messages). */
  lastSinkClose?: string
  /** Data channel ids of the libp2p streams this (sending) tab opened, in order. */
  channelsUsed?: number[]
}

declare global {
  interface Window { __webkadBench?: PageBenchState }
}

export interface ThroughputRun {
  bytes: number
  ms: number
  mbitPerSecond: number
  /** RTCDataChannel.send() calls by the sender (libp2p: framed messages incl. flags). */
  channelMessages: number
  /** Times the sender had to wait for the transport to drain, and for how long in total. */
  drainWaits: number
  drainWaitMs: number
  /** Messages the receiver's handler saw. */
  receiverMessages: number
  /** libp2p: onDrain() calls that returned while the stream still needed a drain. */
  immediateDrains: number
  /** libp2p: largest stream write buffer seen when send() returned false (bytes). */
  peakWriteBuffer: number
}

export interface SenderPlan {
  totalBytes: number
  chunkBytes: number
  /** libp2p only: how to wait when send() returns false. */
  wait?: 'onDrain' | 'drainEvent'
  /** bare only: when to stop writing, and the bufferedAmount to resume at. */
  highWater: number
  lowWater: number
  /** bare only: send a message of this many bytes before each write (as libp2p sends its length prefix). */
  prefixBytes?: number
}

/** Registers the echo and sink protocols in a tab (the receiving side). */
async function installHandlers (tab: BenchTab): Promise<void> {
  await tab.page.evaluate(async ({ echo, sink }) => {
    const node = window.webkad?.node
    if (node == null) throw new Error('tab is not connected')
    const state: PageBenchState = window.__webkadBench ??= { expect: 0, bareMode: 'echo', sinkMessages: 0 }
    await node.handle(echo, (stream) => {
      stream.addEventListener('message', (event) => { stream.send(event.data) })
      stream.addEventListener('remoteCloseWrite', () => { void stream.close().catch(() => {}) })
    })
    await node.handle(sink, (stream) => {
      let received = 0
      state.sinkMessages = 0
      stream.addEventListener('message', (event) => {
        received += event.data.byteLength
        state.sinkMessages++
        if (received >= state.expect) stream.send(new Uint8Array([1]))
      })
      stream.addEventListener('remoteCloseWrite', () => { void stream.close().catch(() => {}) })
      stream.addEventListener('close', (event) => {
        const error = (event as unknown as { error?: Error }).error
        const channelId = (stream as unknown as { channel?: RTCDataChannel }).channel?.id ?? '?'
        state.lastSinkClose = `receiver's stream on channel ${channelId} closed after ${received} B, status ${stream.status}${error != null ? `, ${error.name}: ${error.message}` : ''}`
      })
    })
  }, { echo: ECHO_PROTOCOL, sink: SINK_PROTOCOL })
}

async function setExpected (tab: BenchTab, bytes: number): Promise<void> {
  await tab.page.evaluate((bytes) => {
    const state = window.__webkadBench ??= { expect: 0, bareMode: 'echo', sinkMessages: 0 }
    state.expect = bytes
    state.sinkMessages = 0
  }, bytes)
}

async function receiverMessages (tab: BenchTab): Promise<number> {
  return await tab.page.evaluate(() => window.__webkadBench?.sinkMessages ?? 0)
}

/** 1-byte round trips on one libp2p stream over the WebRTC connection to `peer`. */
async function libp2pRoundTrips (tab: BenchTab, peer: string, count: number): Promise<number[]> {
  return await tab.page.evaluate(async ({ peer, count, warmup, protocol }) => {
    const node = window.webkad?.node
    const connection = node?.getConnections().find((candidate: Connection) => candidate.remotePeer.toString() === peer &&
      candidate.remoteAddr.toString().includes('/webrtc') && candidate.status === 'open' && candidate.limits == null)
    if (connection == null) throw new Error('no open WebRTC connection to the peer')
    const stream: Stream = await connection.newStream(protocol)
    const state = window.__webkadBench ??= { expect: 0, bareMode: 'echo', sinkMessages: 0 }
    ;(state.channelsUsed ??= []).push((stream as unknown as { channel?: RTCDataChannel }).channel?.id ?? -1)
    let answered: (() => void) | undefined
    let failed: ((err: Error) => void) | undefined
    stream.addEventListener('message', () => { answered?.() })
    stream.addEventListener('close', (event) => { failed?.(new Error(`echo stream closed: ${(event as unknown as { error?: Error }).error?.message ?? 'no error'}`)) })
    const byte = new Uint8Array([7])
    const times: number[] = []
    for (let index = 0; index < warmup + count; index++) {
      const reply = new Promise<void>((resolve, reject) => { answered = resolve; failed = reject })
      const startedAt = performance.now()
      stream.send(byte)
      await reply
      if (index >= warmup) times.push(performance.now() - startedAt)
    }
    await stream.close()
    return times
  }, { peer, count, warmup: WARMUP_ROUND_TRIPS, protocol: ECHO_PROTOCOL })
}

/** Writes `plan.totalBytes` in chunks on a new libp2p stream and waits for the sink's ack. */
async function libp2pThroughput (sender: BenchTab, receiver: BenchTab, peer: string, plan: SenderPlan): Promise<ThroughputRun> {
  await setExpected(receiver, plan.totalBytes)
  const run = await sender.page.evaluate(async ({ peer, plan, protocol }) => {
    const node = window.webkad?.node
    const connection = node?.getConnections().find((candidate: Connection) => candidate.remotePeer.toString() === peer &&
      candidate.remoteAddr.toString().includes('/webrtc') && candidate.status === 'open' && candidate.limits == null)
    if (connection == null) throw new Error('no open WebRTC connection to the peer')
    const stream: Stream = await connection.newStream(protocol)
    // The stream's RTCDataChannel (a property of @libp2p/webrtc's WebRTCStream): count what reaches it.
    const channel = (stream as unknown as { channel?: RTCDataChannel }).channel
    const state = window.__webkadBench ??= { expect: 0, bareMode: 'echo', sinkMessages: 0 }
    ;(state.channelsUsed ??= []).push(channel?.id ?? -1)
    let channelMessages = 0
    if (channel != null) {
      const send = channel.send.bind(channel) as (data: ArrayBufferView) => void
      channel.send = ((data: ArrayBufferView) => { channelMessages++; send(data) }) as RTCDataChannel['send']
    }
    // The ack, or the stream's end if it closes first (a promise nobody settles would hang the page call).
    const acked = new Promise<void>((resolve, reject) => {
      stream.addEventListener('message', () => { resolve() }, { once: true })
      stream.addEventListener('close', (event) => {
        reject(new Error(`stream on data channel ${channel?.id ?? '?'} closed before the ack: ${(event as unknown as { error?: Error }).error?.message ?? 'no error'}; status ${stream.status}, write buffer ${stream.writeBufferLength} B`))
      }, { once: true })
    })
    acked.catch(() => {})
    const chunk = crypto.getRandomValues(new Uint8Array(plan.chunkBytes))
    let drainWaits = 0
    let drainWaitMs = 0
    let immediateDrains = 0
    let peakWriteBuffer = 0
    const startedAt = performance.now()
    for (let sent = 0; sent < plan.totalBytes; sent += plan.chunkBytes) {
      const piece = plan.totalBytes - sent >= plan.chunkBytes ? chunk : chunk.subarray(0, plan.totalBytes - sent)
      if (!stream.send(piece)) {
        peakWriteBuffer = Math.max(peakWriteBuffer, stream.writeBufferLength)
        const waitStartedAt = performance.now()
        drainWaits++
        if (plan.wait === 'drainEvent') {
          await new Promise<void>(resolve => { stream.addEventListener('drain', () => { resolve() }, { once: true }) })
        } else {
          await stream.onDrain()
          // onDrain() promised to wait, yet the stream still says it needs a drain.
          if (stream.writableNeedsDrain) immediateDrains++
        }
        drainWaitMs += performance.now() - waitStartedAt
      }
    }
    await acked
    const ms = performance.now() - startedAt
    await stream.close()
    return { bytes: plan.totalBytes, ms, channelMessages, drainWaits, drainWaitMs, immediateDrains, peakWriteBuffer }
  }, { peer, plan, protocol: SINK_PROTOCOL })
  return { ...run, mbitPerSecond: run.bytes * 8 / (run.ms / 1000) / 1e6, receiverMessages: await receiverMessages(receiver) }
}

/** Opens a bare RTCDataChannel from `offerer` to `answerer` (SDP carried by the harness, no trickle). */
export async function openBareChannel (offerer: BenchTab, answerer: BenchTab): Promise<void> {
  const offer = await offerer.page.evaluate(async () => {
    const state = window.__webkadBench ??= { expect: 0, bareMode: 'echo', sinkMessages: 0 }
    const peer = new RTCPeerConnection({ iceServers: [] })
    const channel = peer.createDataChannel('bare-bench')
    channel.binaryType = 'arraybuffer'
    state.barePeer = peer
    state.bareChannel = channel
    await peer.setLocalDescription(await peer.createOffer())
    await new Promise<void>(resolve => {
      if (peer.iceGatheringState === 'complete') { resolve(); return }
      peer.addEventListener('icegatheringstatechange', () => { if (peer.iceGatheringState === 'complete') resolve() })
    })
    return { type: peer.localDescription?.type ?? 'offer', sdp: peer.localDescription?.sdp ?? '' }
  })
  const answer = await answerer.page.evaluate(async (offer) => {
    const state = window.__webkadBench ??= { expect: 0, bareMode: 'echo', sinkMessages: 0 }
    const peer = new RTCPeerConnection({ iceServers: [] })
    state.barePeer = peer
    peer.ondatachannel = (event) => {
      const channel = event.channel
      channel.binaryType = 'arraybuffer'
      state.bareChannel = channel
      let received = 0
      channel.onmessage = (message: MessageEvent<ArrayBuffer>) => {
        if (state.bareMode === 'echo') {
          channel.send(message.data)
          return
        }
        received += message.data.byteLength
        state.sinkMessages++
        if (received >= state.expect) {
          received = 0
          channel.send(new Uint8Array([1]))
        }
      }
    }
    await peer.setRemoteDescription(offer as RTCSessionDescriptionInit)
    await peer.setLocalDescription(await peer.createAnswer())
    await new Promise<void>(resolve => {
      if (peer.iceGatheringState === 'complete') { resolve(); return }
      peer.addEventListener('icegatheringstatechange', () => { if (peer.iceGatheringState === 'complete') resolve() })
    })
    return { type: peer.localDescription?.type ?? 'answer', sdp: peer.localDescription?.sdp ?? '' }
  }, offer)
  await offerer.page.evaluate(async (answer) => {
    const state = window.__webkadBench
    if (state?.barePeer == null || state.bareChannel == null) throw new Error('no bare peer connection')
    await state.barePeer.setRemoteDescription(answer as RTCSessionDescriptionInit)
    const channel = state.bareChannel
    if (channel.readyState !== 'open') await new Promise<void>((resolve) => { channel.addEventListener('open', () => { resolve() }, { once: true }) })
  }, answer)
  await answerer.page.waitForFunction(() => window.__webkadBench?.bareChannel?.readyState === 'open')
}

async function setBareMode (tab: BenchTab, mode: 'echo' | 'sink', expect = 0): Promise<void> {
  await tab.page.evaluate(({ mode, expect }) => {
    const state = window.__webkadBench
    if (state == null) throw new Error('no bench state')
    state.bareMode = mode
    state.expect = expect
    state.sinkMessages = 0
  }, { mode, expect })
}

async function bareRoundTrips (sender: BenchTab, receiver: BenchTab, count: number): Promise<number[]> {
  await setBareMode(receiver, 'echo')
  return await sender.page.evaluate(async ({ count, warmup }) => {
    const channel = window.__webkadBench?.bareChannel
    if (channel == null) throw new Error('no bare channel')
    let answered: (() => void) | undefined
    channel.onmessage = () => { answered?.() }
    const byte = new Uint8Array([7])
    const times: number[] = []
    for (let index = 0; index < warmup + count; index++) {
      const reply = new Promise<void>(resolve => { answered = resolve })
      const startedAt = performance.now()
      channel.send(byte)
      await reply
      if (index >= warmup) times.push(performance.now() - startedAt)
    }
    channel.onmessage = null
    return times
  }, { count, warmup: WARMUP_ROUND_TRIPS })
}

export async function bareThroughput (sender: BenchTab, receiver: BenchTab, plan: SenderPlan): Promise<ThroughputRun> {
  await setBareMode(receiver, 'sink', plan.totalBytes)
  const run = await sender.page.evaluate(async (plan) => {
    const channel = window.__webkadBench?.bareChannel
    if (channel == null) throw new Error('no bare channel')
    const acked = new Promise<void>(resolve => { channel.onmessage = () => { resolve() } })
    channel.bufferedAmountLowThreshold = plan.lowWater
    const chunk = crypto.getRandomValues(new Uint8Array(plan.chunkBytes))
    const prefix = plan.prefixBytes != null ? new Uint8Array(plan.prefixBytes) : undefined
    let channelMessages = 0
    let drainWaits = 0
    let drainWaitMs = 0
    const startedAt = performance.now()
    for (let sent = 0; sent < plan.totalBytes; sent += plan.chunkBytes) {
      if (channel.bufferedAmount >= plan.highWater) {
        const waitStartedAt = performance.now()
        drainWaits++
        await new Promise<void>(resolve => { channel.addEventListener('bufferedamountlow', () => { resolve() }, { once: true }) })
        drainWaitMs += performance.now() - waitStartedAt
      }
      if (prefix != null) {
        channel.send(prefix)
        channelMessages++
      }
      channel.send(plan.totalBytes - sent >= plan.chunkBytes ? chunk : chunk.subarray(0, plan.totalBytes - sent))
      channelMessages++
    }
    await acked
    const ms = performance.now() - startedAt
    channel.onmessage = null
    return { bytes: plan.totalBytes, ms, channelMessages, drainWaits, drainWaitMs, immediateDrains: 0, peakWriteBuffer: 0 }
  }, plan)
  return { ...run, mbitPerSecond: run.bytes * 8 / (run.ms / 1000) / 1e6, receiverMessages: await receiverMessages(receiver) }
}

/** The libp2p stream's largest data payload per RTCDataChannel message (16 KiB minus framing). */
async function libp2pMaxPayload (tab: BenchTab, peer: string): Promise<number> {
  return await tab.page.evaluate(async ({ peer, protocol }) => {
    const connection = window.webkad?.node?.getConnections().find((candidate: Connection) => candidate.remotePeer.toString() === peer &&
      candidate.remoteAddr.toString().includes('/webrtc') && candidate.status === 'open')
    if (connection == null) throw new Error('no open WebRTC connection to the peer')
    const stream = await connection.newStream(protocol)
    const state = window.__webkadBench ??= { expect: 0, bareMode: 'echo', sinkMessages: 0 }
    ;(state.channelsUsed ??= []).push((stream as unknown as { channel?: RTCDataChannel }).channel?.id ?? -1)
    const size = (stream as unknown as { maxMessageSize?: number }).maxMessageSize ?? 0
    await stream.close()
    return size
  }, { peer, protocol: ECHO_PROTOCOL })
}

function mib (bytes: number): number {
  return bytes / (1024 * 1024)
}

function percent (share: number): string {
  return `${Math.round(share * 100)}%`
}

function describeShares ([sender, receiver]: MainThreadShare[]): string {
  if (sender == null || receiver == null) return 'no profile'
  return `sender main thread busy ${percent(sender.busy)} (GC ${percent(sender.gc)}), receiver ${percent(receiver.busy)} (GC ${percent(receiver.gc)})`
}

interface Variant {
  id: string
  run: () => Promise<ThroughputRun>
  runs: ThroughputRun[]
}

export async function runStreams (options: BrowserBenchOptions): Promise<BenchSection> {
  const totalBytes = (options.quick ? 16 : 64) * 1024 * 1024
  const rounds = options.quick ? THROUGHPUT_RUNS.quick : THROUGHPUT_RUNS.full
  return await withWorld(options, async (world) => {
    const [sender, receiver] = await Promise.all([world.openTab({ query: 'scheduler=off' }), world.openTab({ query: 'scheduler=off' })]) as [BenchTab, BenchTab]
    await findPeerWithRetry(sender, receiver.peerId)
    await sender.page.evaluate(async (peer) => { await window.webkad?.session.dialDirect(peer) }, receiver.peerId)
    await settledDirectConnection(sender, receiver.peerId)
    await installHandlers(receiver)
    await openBareChannel(sender, receiver)

    // Round trips: webkad first, then bare, same tabs.
    const webkadRtt = summarize(await libp2pRoundTrips(sender, receiver.peerId, ROUND_TRIPS))
    const bareRtt = summarize(await bareRoundTrips(sender, receiver, ROUND_TRIPS))

    const maxPayload = await libp2pMaxPayload(sender, receiver.peerId)
    const plan: SenderPlan = { totalBytes, chunkBytes: CHUNK_BYTES, highWater: HIGH_WATER_BYTES, lowWater: BARE_LOW_WATER_BYTES }
    const libp2p = (variant: Partial<SenderPlan>) => async () => await libp2pThroughput(sender, receiver, receiver.peerId, { ...plan, ...variant })
    const bare = (variant: Partial<SenderPlan>) => async () => await bareThroughput(sender, receiver, { ...plan, ...variant })
    // The main pair, then variants that each change one thing (to see what limits the stream).
    const variants: Variant[] = [
      { id: 'webkad', run: libp2p({}), runs: [] },
      { id: 'bare', run: bare({}), runs: [] },
      { id: 'webkad-drain-event', run: libp2p({ wait: 'drainEvent' }), runs: [] },
      { id: 'webkad-aligned', run: libp2p({ chunkBytes: maxPayload }), runs: [] },
      { id: 'bare-drain-to-zero', run: bare({ lowWater: 0 }), runs: [] },
      { id: 'bare-libp2p-messages', run: bare({ chunkBytes: UNPATCHED_MAX_PAYLOAD + 3, prefixBytes: 2 }), runs: [] }
    ]
    // A run that fails (stream closed under it) is retried once and reported in the notes.
    const failures: string[] = []
    const attempt = async (id: string, run: () => Promise<ThroughputRun>): Promise<ThroughputRun> => {
      try {
        return await run()
      } catch (err) {
        const receiverSide = await receiver.page.evaluate(() => window.__webkadBench?.lastSinkClose ?? 'receiver saw no close')
        const channels = await sender.page.evaluate(() => window.__webkadBench?.channelsUsed ?? [])
        failures.push(`${id}: ${(err as Error).message.split('\n')[0] ?? ''} (${receiverSide}; channel ids of the sender's streams so far: ${channels.join(', ')})`)
        return await run()
      }
    }
    // One untimed pass each warms the JIT and SCTP's congestion window.
    await attempt('warm-up webkad', libp2p({ totalBytes: 4 * 1024 * 1024 }))
    await attempt('warm-up bare', bare({ totalBytes: 4 * 1024 * 1024 }))
    // Interleaved rounds, so a load change on this shared machine hits every variant alike.
    for (let pass = 0; pass < rounds; pass++) {
      for (const variant of variants) variant.runs.push(await attempt(variant.id, variant.run))
    }
    const byId = (id: string): Variant => variants.find(variant => variant.id === id) as Variant
    const mbit = (id: string): number => median(byId(id).runs.map(run => run.mbitPerSecond))
    const runsText = (id: string): string => byId(id).runs.map(run => Math.round(run.mbitPerSecond)).join('/')
    const webkadMbit = mbit('webkad')
    const bareMbit = mbit('bare')
    const throughputRatio = webkadMbit / bareMbit

    // Main-thread profiles of one more run each (not counted above).
    const profileBytes = Math.min(totalBytes, 16 * 1024 * 1024)
    const webkadProfiled = await profileMainThreads([sender.page, receiver.page], libp2p({ totalBytes: profileBytes }))
    const bareProfiled = await profileMainThreads([sender.page, receiver.page], bare({ totalBytes: profileBytes }))

    const webkadRuns = byId('webkad').runs
    const sum = (runs: ThroughputRun[], pick: (run: ThroughputRun) => number): number => runs.reduce((total, run) => total + pick(run), 0)
    const writes = sum(webkadRuns, run => run.bytes) / CHUNK_BYTES
    const messagesPerWrite = sum(webkadRuns, run => run.channelMessages) / writes
    const immediate = sum(webkadRuns, run => run.immediateDrains)
    const waits = sum(webkadRuns, run => run.drainWaits)
    const peakBuffer = Math.max(...webkadRuns.map(run => run.peakWriteBuffer))
    const drainWaitShare = sum(webkadRuns, run => run.drainWaitMs) / sum(webkadRuns, run => run.ms)
    const variantRatio = (id: string, reference: string): string => `${round(mbit(id) / mbit(reference))}×`

    const findings = [
      `framing: ${round(messagesPerWrite)} RTCDataChannel messages per 16 KiB write — webkad sends each frame as one message of up to ${maxPayload} payload bytes; unpatched @libp2p/webrtc sent two per frame (the varint length prefix, then the protobuf) and cut writes at ${UNPATCHED_MAX_PAYLOAD} B: bare with that pattern runs at ${variantRatio('bare-libp2p-messages', 'bare')} of bare; webkad with ${maxPayload} B writes runs at ${variantRatio('webkad-aligned', 'webkad')} of webkad`,
      `backpressure: ${immediate} of ${waits} onDrain() waits returned at once while the stream still needed a drain (unpatched @libp2p/utils never cleared its resolved onDrainPromise, so after the first drain writes piled up in the stream's JS write buffer; webkad's patch makes this 0) — peak JS write buffer ${round(mib(peakBuffer))} MiB; waiting for the 'drain' event instead gives ${variantRatio('webkad-drain-event', 'webkad')} of webkad; sender blocked on drain ${percent(drainWaitShare)} of the time`,
      `resume threshold: unpatched @libp2p/webrtc sets bufferedAmountLowThreshold 0 (resume only when empty), webkad's patch half of its 2 MiB buffer; bare with the unpatched policy runs at ${variantRatio('bare-drain-to-zero', 'bare')} of bare`,
      `CPU: webkad ${describeShares(webkadProfiled.shares)}; bare ${describeShares(bareProfiled.shares)}`
    ]
    // Each variant changes one thing; its cost is the throughput lost with the libp2p behaviour.
    const cost = (withIt: number, without: number): number => 1 - withIt / without
    const costs = [
      { what: 'resuming only at bufferedAmount 0 (unpatched libp2p, bare)', cost: cost(mbit('bare-drain-to-zero'), bareMbit) },
      { what: 'unpatched libp2p\'s 2-message, 16 KiB framing (bare)', cost: cost(mbit('bare-libp2p-messages'), bareMbit) },
      { what: `16 KiB writes rather than full ${maxPayload} B messages`, cost: cost(webkadMbit, mbit('webkad-aligned')) },
      { what: 'onDrain() instead of the drain event', cost: cost(webkadMbit, mbit('webkad-drain-event')) }
    ].sort((a, b) => b.cost - a.cost)
    const bareRates = byId('bare').runs.map(run => run.mbitPerSecond)
    const halfSpread = (Math.max(...bareRates) - Math.min(...bareRates)) / bareMbit / 2
    const verdict = `${throughputRatio >= GOAL_THROUGHPUT_RATIO ? 'costs' : 'what limits it — costs'} measured one at a time: ${costs.map(item => `${item.what} ${percent(item.cost)}`).join(', ')} (bare runs vary ±${percent(halfSpread)}, so smaller costs are noise); CPU while profiled: webkad ${describeShares(webkadProfiled.shares)}`
    const diagnosticRow = (id: string, metric: string, reference: string, referenceLabel: string, note?: string): BenchRow => ({
      metric: `diagnostic: ${metric}`,
      value: round(mbit(id)),
      unit: 'Mbit/s',
      baseline: round(mbit(reference)),
      baselineLabel: referenceLabel,
      ratio: round(mbit(id) / mbit(reference)),
      note: `runs ${runsText(id)}${note != null ? `; ${note}` : ''}`
    })
    const rows: BenchRow[] = [
      {
        metric: '1-byte round trip p50',
        value: round(webkadRtt.p50),
        unit: 'ms',
        baseline: round(bareRtt.p50),
        baselineLabel: 'bare RTCDataChannel between the same tabs, same run',
        ratio: round(ratio(webkadRtt.p50, bareRtt.p50) ?? Number.NaN),
        goal: `≤ ${GOAL_RTT_P50_MS} ms`,
        met: webkadRtt.p50 <= GOAL_RTT_P50_MS
      },
      {
        metric: '1-byte round trip p99',
        value: round(webkadRtt.p99),
        unit: 'ms',
        baseline: round(bareRtt.p99),
        baselineLabel: 'bare, same run',
        ratio: round(ratio(webkadRtt.p99, bareRtt.p99) ?? Number.NaN),
        note: `${ROUND_TRIPS} round trips after ${WARMUP_ROUND_TRIPS} warm-up; max ${round(webkadRtt.max)} ms (bare ${round(bareRtt.max)} ms)`
      },
      {
        metric: `throughput, 16 KiB writes, ${mib(totalBytes)} MiB`,
        value: round(webkadMbit),
        unit: 'Mbit/s',
        baseline: round(bareMbit),
        baselineLabel: 'bare RTCDataChannel, same tabs, same run',
        ratio: round(throughputRatio),
        goal: `≥ ${GOAL_THROUGHPUT_RATIO * 100}% of bare`,
        met: throughputRatio >= GOAL_THROUGHPUT_RATIO,
        note: `median of ${rounds} interleaved runs (webkad ${runsText('webkad')}, bare ${runsText('bare')}); ${verdict}`
      },
      diagnosticRow('webkad-drain-event', 'webkad, sender waits for the \'drain\' event instead of onDrain()', 'webkad', 'webkad (above)'),
      diagnosticRow('webkad-aligned', `webkad, ${maxPayload} B writes (one full message each)`, 'webkad', 'webkad (above)'),
      diagnosticRow('bare-libp2p-messages', `bare, unpatched libp2p's message pattern (2 B + ${UNPATCHED_MAX_PAYLOAD + 3} B per write)`, 'bare', 'bare (above)'),
      diagnosticRow('bare-drain-to-zero', 'bare, resume only at bufferedAmount 0 (unpatched libp2p\'s policy)', 'bare', 'bare (above)'),
      {
        metric: 'reference: stock libp2p recipe WebRTC upload',
        value: STOCK_RECIPE_UPLOAD,
        unit: 'Mbit/s',
        note: 'recorded anchor on this machine, not this run'
      }
    ]
    return {
      title: 'Streams between two tabs: libp2p stream over WebRTC vs a bare RTCDataChannel',
      rows,
      notes: [
        'Two tabs (?scheduler=off) with one direct WebRTC connection; echo and sink protocols registered with node.handle() in the receiving tab; every measurement opens a new stream on that connection. The bare channel is a second RTCPeerConnection between the same two tabs (SDP carried by the harness), ordered and reliable like libp2p\'s channels.',
        `Throughput: ${CHUNK_BYTES / 1024} KiB writes, timed from the first write to the sink's 1-byte ack after the last byte; ${rounds} rounds over all variants in turn, median reported. libp2p sender: send(), and await onDrain() when it returns false. Bare sender: pauses when bufferedAmount ≥ ${HIGH_WATER_BYTES / 1024 / 1024} MiB (libp2p's cap) and resumes on bufferedamountlow at ${BARE_LOW_WATER_BYTES / 1024} KiB.`,
        'On this path @libp2p/webrtc carries each stream on its own RTCDataChannel and frames every write as varint length + protobuf Message{message}; noise and yamux are not involved (DTLS encrypts, the data-channel muxer multiplexes).',
        ...findings.map(finding => `Finding — ${finding}.`),
        `Profiles: V8 sampling over CDP during one extra ${mib(profileBytes)} MiB run each (${round(webkadProfiled.result.mbitPerSecond)} and ${round(bareProfiled.result.mbitPerSecond)} Mbit/s while profiled). The two renderers, the browser and the relay share the machine's cores with whatever else runs.`,
        ...(failures.length > 0 ? [`${failures.length} throughput run(s) failed and were redone: ${failures.join('; ')}`] : []),
        ...world.pageErrors.map(error => `page error: ${error}`)
      ]
    }
  })
}
