import { logger } from '@libp2p/logger'
import { MemoryDatastore } from 'datastore-core'
import { TabStorageError } from '../errors.ts'
import { RecordHolding } from '../dht/record-holding.ts'
import { createFollowingStore, createStore } from '../stores/store.ts'
import { ResilientDatastore } from './resilient-datastore.ts'
import type { HeldRecordsSnapshot, RecordHoldingInit } from '../dht/record-holding.ts'
import type { ReadableStore } from '../stores/store.ts'
import type { PeerId } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'

const log = logger('webkad:storage')

export interface TabStorageState {
  /** disk: the node's datastore is IndexedDB; memory: it could not be opened or written. */
  where: 'disk' | 'memory'
  /** Why the tab keeps its data in memory, for the page to say. */
  problem?: string
  /** Records past their time dropped when the datastore was opened. */
  droppedOnLoad?: number
}

export interface TabStorageInit {
  peerId: PeerId
  /** Opens libp2p's datastore for this identity (IndexedDB in the browser); in memory if omitted. */
  openNodeDatastore?: (peerId: string) => Promise<Datastore>
  /** Opens the chat store for this identity (its own database); in memory if omitted. */
  openChatDatastore?: (peerId: string) => Promise<Datastore>
  /** Limits of the record layer (tests lower them). */
  holding?: Omit<RecordHoldingInit, 'self'>
}

export const EMPTY_HELD: HeldRecordsSnapshot = { records: [], counts: { own: 0, author: 0, copy: 0, cache: 0 }, bytes: 0 }

/**
 * A tab's storage, opened once per identity and kept across reconnects: libp2p's datastore (peer
 * store, the records it holds, provider records) behind the record layer, and chat's own store.
 * An unreadable database or a full quota never stops the tab: it carries on in memory and says so.
 */
export class TabStorage {
  private readonly init: TabStorageInit
  private readonly stateStore = createStore<TabStorageState>({ where: 'memory' })
  private readonly heldView = createFollowingStore<HeldRecordsSnapshot>(EMPTY_HELD)
  private nodeStorage?: Promise<RecordHolding>
  private chatStorage?: Promise<Datastore | undefined>

  constructor (init: TabStorageInit) {
    this.init = init
  }

  get state (): ReadableStore<TabStorageState> { return this.stateStore }
  /** The records this tab holds, with how each arrived (the Stored-here panel). */
  get held (): ReadableStore<HeldRecordsSnapshot> { return this.heldView }

  /** The record layer over the node's datastore, opened (and expired records dropped) on first use. */
  async node (): Promise<RecordHolding> {
    this.nodeStorage ??= this.openNode()
    return await this.nodeStorage
  }

  async chat (): Promise<Datastore | undefined> {
    this.chatStorage ??= this.init.openChatDatastore?.(this.init.peerId.toString())
    return await this.chatStorage
  }

  /** Deletes everything in the node's datastore (records, notes, peer store); chat is kept. */
  async clear (): Promise<number> {
    const holding = await this.node()
    const removed = await holding.clear()
    const others = []
    for await (const key of holding.datastore.queryKeys({})) others.push(key)
    for (const key of others) await holding.datastore.delete(key)
    return removed + others.length
  }

  private async openNode (): Promise<RecordHolding> {
    const peerId = this.init.peerId.toString()
    let base: Datastore
    if (this.init.openNodeDatastore == null) {
      base = new MemoryDatastore()
    } else {
      try {
        const disk = await this.init.openNodeDatastore(peerId)
        base = new ResilientDatastore(disk, (err) => {
          log.error('the node datastore refused a write - %e', err)
          this.stateStore.set({ ...this.stateStore.getSnapshot(), where: 'memory', problem: `This tab's storage refused a write (${describe(err)}); new records and peers are kept in memory only until the tab closes.` })
        })
        this.stateStore.set({ where: 'disk' })
      } catch (err) {
        log.error('could not open the node datastore - %e', err)
        base = new MemoryDatastore()
        this.stateStore.set({ where: 'memory', problem: `This tab's storage could not be opened (${describe(err)}); the tab keeps its records and peers in memory until it closes.` })
      }
    }
    let holding = new RecordHolding(base, { ...this.init.holding, self: this.init.peerId })
    try {
      const { removed } = await holding.load()
      this.stateStore.set({ ...this.stateStore.getSnapshot(), droppedOnLoad: removed })
    } catch (err) {
      // An unreadable database is left as it is on disk (nothing deleted); the tab goes on in memory.
      log.error('could not read the node datastore - %e', err)
      holding = new RecordHolding(new MemoryDatastore(), { ...this.init.holding, self: this.init.peerId })
      this.stateStore.set({ where: 'memory', problem: `This tab's storage could not be read (${describe(err)}); the tab keeps its records and peers in memory until it closes.` })
    }
    this.heldView.follow(holding.held)
    return holding
  }
}

function describe (err: Error | unknown): string {
  const error = err instanceof Error ? err : new TabStorageError(String(err))
  if (error.name === 'QuotaExceededError') return 'the browser\'s storage quota is full'
  return `${error.name}: ${error.message}`.slice(0, 200)
}
