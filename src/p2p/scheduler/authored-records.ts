import { createStore } from '../stores/store.ts'
import type { RecordPayload } from '../dht/records.ts'
import type { ReadableStore } from '../stores/store.ts'

/** A record this tab wrote and keeps alive while it is open. */
export interface AuthoredRecord {
  key: string
  payload: RecordPayload
  lifetimeMs: number
  sequence: bigint
  publishedAt: number
  expiresAt: number
  /** Republished at half its lifetime, so holders never see it lapse. */
  nextRepublishAt: number
  lastError?: string
}

/** The records this tab authored, for the republish task and the UI. */
export class AuthoredRecords {
  private readonly store = createStore<readonly AuthoredRecord[]>([])

  get records (): ReadableStore<readonly AuthoredRecord[]> { return this.store }

  published (record: Omit<AuthoredRecord, 'nextRepublishAt' | 'lastError'>): void {
    const entry: AuthoredRecord = { ...record, nextRepublishAt: record.publishedAt + Math.floor(record.lifetimeMs / 2) }
    this.store.update(records => [...records.filter(existing => existing.key !== record.key), entry].sort((a, b) => a.key.localeCompare(b.key)))
  }

  failed (key: string, error: string, retryAt: number): void {
    this.store.update(records => records.map(record => record.key === key ? { ...record, lastError: error, nextRepublishAt: retryAt } : record))
  }

  due (now: number): AuthoredRecord[] {
    return this.store.getSnapshot().filter(record => record.nextRepublishAt <= now)
  }

  /** Milliseconds until the next republish is due (Infinity when nothing is authored). */
  nextDueIn (now: number): number {
    return this.store.getSnapshot().reduce((soonest, record) => Math.min(soonest, record.nextRepublishAt - now), Number.POSITIVE_INFINITY)
  }
}
