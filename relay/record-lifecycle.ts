import { logger } from '@libp2p/logger'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { DhtOperations } from '../src/p2p/dht/dht-operations.ts'
import { describeReplicationRound, replicateHeldRecords } from '../src/p2p/dht/holder-replication.ts'
import { kadInternals } from '../src/p2p/dht/kad-internals.ts'
import { RecordHolding } from '../src/p2p/dht/record-holding.ts'
import type { DhtNode } from '../src/p2p/dht/dht-operations.ts'
import type { ReplicationRound } from '../src/p2p/dht/holder-replication.ts'
import type { RecordArrival } from '../src/p2p/dht/record-holding.ts'
import type { PrivateKey } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'

const log = logger('webkad:relay:records')

/** How often a relay drops records past their time (expired, or cached copies that ran out). */
export const RECORD_SWEEP_INTERVAL_MS = 30_000

export interface RelayRecordsStatus {
  held: number
  byArrival: Record<RecordArrival, number>
  bytes: number
  replicationIntervalMs: number
  lastReplication?: ReplicationRound & { at: number, summary: string }
}

/**
 * The records a relay holds (the same record layer as a tab's, over its LevelDB datastore) and
 * their lifecycle: holder replication every `replicationIntervalMs` (its own flag, --replicate-interval)
 * and the sweep of records past their time.
 */
export class RelayRecordLifecycle {
  readonly holding: RecordHolding
  private readonly privateKey: PrivateKey
  private readonly replicationIntervalMs: number
  private timers: Array<ReturnType<typeof setInterval>> = []
  private running?: AbortController
  private lastReplication?: RelayRecordsStatus['lastReplication']

  constructor (datastore: Datastore, privateKey: PrivateKey, replicationIntervalMs: number) {
    this.privateKey = privateKey
    this.replicationIntervalMs = replicationIntervalMs
    this.holding = new RecordHolding(datastore, { self: peerIdFromPrivateKey(privateKey), maxRecords: 100_000 })
  }

  /** Reads the held records (dropping those past their time) and starts replication and the sweep. */
  async start (node: DhtNode): Promise<void> {
    this.holding.attach(kadInternals(node.services.dht), () => node.getPeers())
    await this.holding.load()
    const dht = new DhtOperations(node, this.privateKey)
    this.timers.push(setInterval(() => {
      this.holding.sweep().catch((err: unknown) => { log.error('record sweep failed - %e', err) })
    }, RECORD_SWEEP_INTERVAL_MS))
    this.timers.push(setInterval(() => { void this.replicate(dht) }, this.replicationIntervalMs))
  }

  stop (): void {
    for (const timer of this.timers.splice(0)) clearInterval(timer)
    this.running?.abort()
  }

  status (): RelayRecordsStatus {
    this.holding.held.flush()
    const fresh = this.holding.held.getSnapshot()
    return { held: fresh.records.length, byArrival: { ...fresh.counts }, bytes: fresh.bytes, replicationIntervalMs: this.replicationIntervalMs, ...(this.lastReplication != null ? { lastReplication: this.lastReplication } : {}) }
  }

  private async replicate (dht: DhtOperations): Promise<void> {
    if (this.running != null) return
    this.running = new AbortController()
    try {
      const round = await replicateHeldRecords(this.holding, dht, { intervalMs: this.replicationIntervalMs, signal: AbortSignal.any([this.running.signal, AbortSignal.timeout(this.replicationIntervalMs)]) })
      const summary = describeReplicationRound(round)
      this.lastReplication = { ...round, at: Date.now(), summary }
      if (round.replicated > 0) log('replication: %s', summary)
    } catch (err) {
      if (this.running?.signal.aborted !== true) log.error('replication failed - %e', err)
    } finally {
      this.running = undefined
    }
  }
}
