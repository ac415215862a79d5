import { BaseDatastore, MemoryDatastore } from 'datastore-core'
import { Key } from 'interface-datastore'
import type { AbortOptions } from '@libp2p/interface'
import type { Datastore, KeyQuery, Pair, Query } from 'interface-datastore'

/**
 * A datastore on disk that keeps working when the disk does not: a write IndexedDB refuses (quota,
 * a closed or broken database) goes to memory instead, and reads see memory first. `onProblem`
 * hears the first failure, so the page can say the tab now keeps new data in memory only.
 * Nothing already stored is lost and no write is dropped.
 */
export class ResilientDatastore extends BaseDatastore {
  private readonly disk: Datastore
  private readonly memory = new MemoryDatastore()
  /** Keys deleted while the disk refused the delete: hidden from reads. */
  private readonly deleted = new Set<string>()
  private readonly onProblem: (err: Error) => void
  private failed = false

  constructor (disk: Datastore, onProblem: (err: Error) => void) {
    super()
    this.disk = disk
    this.onProblem = onProblem
  }

  /** True once a write went to memory because the disk refused it. */
  get degraded (): boolean { return this.failed }

  override async put (key: Key, value: Uint8Array, options?: AbortOptions): Promise<Key> {
    this.deleted.delete(key.toString())
    if (!this.failed) {
      try {
        await this.disk.put(key, value, options)
        return key
      } catch (err) {
        options?.signal?.throwIfAborted()
        this.fail(err)
      }
    }
    await this.memory.put(key, value)
    return key
  }

  override async get (key: Key, options?: AbortOptions): Promise<Uint8Array> {
    if (this.deleted.has(key.toString())) return await this.memory.get(key) // throws NotFoundError
    if (await this.memory.has(key)) return await this.memory.get(key)
    return await this.disk.get(key, options)
  }

  override async has (key: Key, options?: AbortOptions): Promise<boolean> {
    if (this.deleted.has(key.toString())) return false
    return await this.memory.has(key) || await this.disk.has(key, options)
  }

  override async delete (key: Key, options?: AbortOptions): Promise<void> {
    await this.memory.delete(key)
    try {
      await this.disk.delete(key, options)
    } catch (err) {
      options?.signal?.throwIfAborted()
      this.fail(err)
      this.deleted.add(key.toString())
    }
  }

  override async * _all (query: Query, options?: AbortOptions): AsyncGenerator<Pair> {
    const seen = new Set<string>()
    for await (const pair of this.memory.query({ prefix: query.prefix }, options)) {
      seen.add(pair.key.toString())
      yield pair
    }
    for await (const pair of this.disk.query({ prefix: query.prefix }, options)) {
      const text = pair.key.toString()
      if (!seen.has(text) && !this.deleted.has(text)) yield pair
    }
  }

  override async * _allKeys (query: KeyQuery, options?: AbortOptions): AsyncGenerator<Key> {
    for await (const pair of this._all({ prefix: query.prefix }, options)) yield new Key(pair.key.toString())
  }

  private fail (err: unknown): void {
    if (this.failed) return
    this.failed = true
    this.onProblem(err instanceof Error ? err : new Error(String(err)))
  }
}
