/**
 * Replacement churn, with and without holder replication (issue #12): R records are Put, then
 * 10 rounds in which 20 % of the nodes leave, as many new nodes join (so holders drift away from
 * the current k closest) and one replication interval passes; after each round every record is
 * read (Get) from a random live node. Runs in a child process of the simulated-network section.
 */
import { replicateHeldRecords } from '../../src/p2p/dht/holder-replication.ts'
import { mapWithConcurrency, pickOne, sample } from '../lib/node-runtime.ts'
import { round } from '../lib/stats.ts'
import { compareDistances, kadIdOfKey, xorDistance } from '../../src/p2p/dht/kad-math.ts'
import { toString } from 'uint8arrays'
import {
  DIALS_PER_JOIN, SELF_QUERY_WAIT_MS, SIM_CLOCK, TUNED,
  buildNetwork, createSimNode, getRecord, putRecords, stopNodes, waitForSelfQuery
} from './simulated-network.ts'
import type { SimNode } from './simulated-network.ts'
import type { BenchRow } from '../lib/types.ts'
import type { Multiaddr } from '@multiformats/multiaddr'

export interface ReplacementChurnPlan {
  records: number
  rounds: number
  /** Share of live nodes replaced per round. */
  share: number
  /** Simulated time per round: the replication interval (Kademlia's hour). */
  intervalMs: number
}

export interface ReplacementChurnRound {
  round: number
  getsOk: number
  getsTotal: number
  /** Replication requests (GET_VALUE lookups and PUT_VALUEs) this round, per live node. */
  messagesPerNode: number
  /** Records held per live node after the round (mean). */
  heldPerNode: number
  /** Bytes written to the record layers of all nodes this round, per live node. */
  bytesWrittenPerNode: number
  /** Records re-stored on peers this round. */
  peersStored: number
}

export interface ReplacementChurnResult {
  n: number
  replication: boolean
  plan: ReplacementChurnPlan
  recordsPut: number
  rounds: ReplacementChurnRound[]
  durationMs: number
}

export function replacementChurnPlan (quick: boolean): ReplacementChurnPlan {
  return { records: quick ? 20 : 40, rounds: 10, share: 0.2, intervalMs: 60 * 60_000 }
}

const JOIN_CONCURRENCY = 8
const REPLICATION_TIMEOUT_MS = 10 * 60_000

/** Starts a new node and joins it as the build does: dial 3 random live nodes, wait for its self-query. */
async function joinNew (sim: SimNode, live: readonly SimNode[]): Promise<void> {
  const targets = sample(live, DIALS_PER_JOIN)
  const selfQuery = waitForSelfQuery(sim.node, SELF_QUERY_WAIT_MS)
  await sim.node.start()
  sim.address = sim.node.getMultiaddrs()[0] as Multiaddr
  sim.alive = true
  await Promise.allSettled(targets.map(async target => await sim.node.dial(target.address, { signal: AbortSignal.timeout(20_000) })))
  await selfQuery
}

export async function simulateReplacementChurn (n: number, replication: boolean, plan: ReplacementChurnPlan, log: (text: string) => void): Promise<ReplacementChurnResult> {
  const startedAt = performance.now()
  const tag = `N=${n} replacement churn ${replication ? 'with' : 'without'} replication`
  const built = await buildNetwork(n, TUNED, text => { log(`  ${tag}: ${text}`) })
  const nodes: SimNode[] = [...built.nodes]
  const network = Date.now()
  const { records } = await putRecords(nodes, plan.records, network)
  log(`  ${tag}: built, ${records.length}/${plan.records} records put`)
  const rounds: ReplacementChurnRound[] = []
  let nextIndex = n
  for (let index = 1; index <= plan.rounds; index++) {
    const roundStartedAt = performance.now()
    const live = (): SimNode[] => nodes.filter(sim => sim.alive)
    const leaving = sample(live(), Math.round(n * plan.share))
    await stopNodes(leaving)
    const joining = await mapWithConcurrency(leaving.map(() => nextIndex++), 16, async id => await createSimNode(network, id, TUNED))
    const stayed = live()
    await mapWithConcurrency(joining, JOIN_CONCURRENCY, async sim => { await joinNew(sim, stayed) })
    nodes.push(...joining)
    SIM_CLOCK.offsetMs += plan.intervalMs
    const written = (): number => nodes.reduce((sum, sim) => sum + (sim.holding?.bytesWritten ?? 0), 0)
    const writtenBefore = written()
    let messages = 0
    let peersStored = 0
    let replicationMs = 0
    if (replication) {
      // Every live node runs its replication once per interval, in random order: a holder that
      // received a record from another holder within the interval skips it (the paper's optimisation).
      // One node at a time. The process is CPU-bound: a profile of an N=256 round shows no waiting
      // (GC, timers, peer-store merges, signature checks), so running several at once would not be faster.
      const replicationStartedAt = performance.now()
      const signal = AbortSignal.timeout(REPLICATION_TIMEOUT_MS)
      for (const sim of sample(live(), live().length)) {
        if (sim.holding == null || sim.dht == null) continue
        const result = await replicateHeldRecords(sim.holding, sim.dht, { intervalMs: plan.intervalMs, signal, now: SIM_CLOCK.now() })
        messages += result.messages
        peersStored += result.peersStored
      }
      replicationMs = performance.now() - replicationStartedAt
    }
    let getsOk = 0
    const failedKeys = new Set<string>()
    for (const record of records) {
      if (await getRecord(pickOne(live()), record)) getsOk++
      else failedKeys.add(toString(record.key))
    }
    if (process.env.WEBKAD_CHURN_DIAG === '1') log(`  ${tag}: round ${index} holders: ${describeHolders(live(), records, failedKeys, SIM_CLOCK.now())}`)
    const alive = live()
    const result: ReplacementChurnRound = {
      round: index,
      getsOk,
      getsTotal: records.length,
      messagesPerNode: messages / alive.length,
      heldPerNode: alive.reduce((sum, sim) => sum + (sim.holding?.records().length ?? 0), 0) / alive.length,
      bytesWrittenPerNode: (written() - writtenBefore) / alive.length,
      peersStored
    }
    rounds.push(result)
    log(`  ${tag}: round ${index}: ${getsOk}/${records.length} gets, ${round(result.messagesPerNode)} messages and ${Math.round(result.bytesWrittenPerNode)} bytes written per node, ${round(result.heldPerNode)} records held per node; round took ${Math.round((performance.now() - roundStartedAt) / 1000)} s (replication ${Math.round(replicationMs / 1000)} s)`)
  }
  await stopNodes(nodes.filter(sim => sim.alive))
  return { n, replication, plan, recordsPut: records.length, rounds, durationMs: performance.now() - startedAt }
}

/** Diagnosis (WEBKAD_CHURN_DIAG=1): where each record's live copies sit among the true k closest live nodes. */
function describeHolders (live: readonly SimNode[], records: ReadonlyArray<{ key: Uint8Array }>, failed: ReadonlySet<string>, now: number): string {
  const k = 20
  let inTopK = 0
  let nonCacheInTopK = 0
  let total = 0
  let cacheTotal = 0
  const failedLines: string[] = []
  for (const record of records) {
    const key = toString(record.key)
    const target = kadIdOfKey(record.key)
    const ranked = [...live].sort((a, b) => compareDistances(xorDistance(a.kadId, target), xorDistance(b.kadId, target)))
    const ranks: string[] = []
    ranked.forEach((sim, rank) => {
      const held = sim.holding?.records().find(r => r.key === key && r.keepUntil > now)
      if (held == null) return
      total++
      if (held.arrival === 'cache') cacheTotal++
      if (rank < k) { inTopK++; if (held.arrival !== 'cache') nonCacheInTopK++ }
      ranks.push(`${rank}${held.arrival[0] ?? ''}`)
    })
    if (failed.has(key)) failedLines.push(`[${ranks.join(',')}]`)
  }
  const per = (value: number): number => round(value / records.length)
  return `copies/record ${per(total)} (cache ${per(cacheTotal)}), in true top-${k} ${per(inTopK)} (non-cache ${per(nonCacheInTopK)}); failed: ${failedLines.join(' ')}`
}

function percent (ok: number, total: number): number {
  return total === 0 ? 0 : round((100 * ok) / total)
}

/** The section's rows: the two issue rows (exact names), then the cost of replication. */
export function replacementChurnRows (withReplication: ReplacementChurnResult | undefined, without: ReplacementChurnResult | undefined): BenchRow[] {
  const rows: BenchRow[] = []
  const last = (result: ReplacementChurnResult | undefined): ReplacementChurnRound | undefined => result?.rounds.at(-1)
  const a = last(withReplication)
  const b = last(without)
  const perRound = (result: ReplacementChurnResult | undefined): string => result?.rounds.map(r => `${r.getsOk}/${r.getsTotal}`).join(' ') ?? ''
  if (withReplication != null && a != null) {
    rows.push({
      metric: 'Get success after 10 rounds of replacement churn, with holder replication',
      value: percent(a.getsOk, a.getsTotal),
      unit: '%',
      ...(b != null ? { baseline: percent(b.getsOk, b.getsTotal), baselineLabel: 'without holder replication, same run' } : {}),
      note: `N=${withReplication.n}, ${withReplication.recordsPut} records, 20% replaced per round; goal ≥ 99%; per round: ${perRound(withReplication)}`
    })
  }
  if (without != null && b != null) {
    rows.push({
      metric: 'Get success after 10 rounds of replacement churn, without holder replication',
      value: percent(b.getsOk, b.getsTotal),
      unit: '%',
      note: `the baseline; N=${without.n}; per round: ${perRound(without)}`
    })
  }
  if (withReplication != null && withReplication.rounds.length > 0) {
    const mean = (pick: (r: ReplacementChurnRound) => number): number => round(withReplication.rounds.reduce((sum, r) => sum + pick(r), 0) / withReplication.rounds.length)
    rows.push({ metric: `N=${withReplication.n} holder replication: messages per node per interval`, value: mean(r => r.messagesPerNode), unit: 'messages', note: 'GET_VALUE lookups and PUT_VALUEs of the replication task, mean over the 10 rounds' })
    rows.push({ metric: `N=${withReplication.n} holder replication: records held per node`, value: mean(r => r.heldPerNode), unit: 'records', ...(without != null ? { baseline: round(without.rounds.reduce((sum, r) => sum + r.heldPerNode, 0) / without.rounds.length), baselineLabel: 'without replication' } : {}) })
    rows.push({ metric: `N=${withReplication.n} holder replication: bytes written per node per interval`, value: mean(r => r.bytesWrittenPerNode), unit: 'bytes', note: 'records and their notes written to the record layers' })
  }
  return rows
}
