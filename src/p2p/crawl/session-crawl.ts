import { Record as Libp2pRecord } from '@libp2p/kad-dht'
import { kadRecordKey } from '../dht/kad-internals.ts'
import { crawlNetwork } from './crawler.ts'
import { findKeyHolders } from './key-holders.ts'
import type { CrawlOptions, CrawlHost } from './crawler.ts'
import type { CrawlResult } from './crawl-types.ts'
import type { KeyHoldersOptions, KeyHoldersResult } from './key-holders.ts'
import type { KadInternals } from '../dht/kad-internals.ts'
import type { WebkadNode } from '../node.ts'
import type { Datastore } from 'interface-datastore'

export type { CrawlOptions } from './crawler.ts'
export type { CrawlProgressEvent, CrawlResult } from './crawl-types.ts'
export type { HolderState, KeyHolder, KeyHoldersOptions, KeyHoldersProgressEvent, KeyHoldersResult } from './key-holders.ts'
export { crawlToJson, parseCrawlFile } from './crawl-file.ts'

/**
 * A crawl from a tab's live node: its own k-buckets (read through the one kad-dht adapter) are
 * the seeds and its own table. Kept out of session.ts, which loads this module on first use.
 */
export async function crawlFromNode (live: { node: WebkadNode, kad: KadInternals }, options: CrawlOptions = {}): Promise<CrawlResult> {
  return await crawlNetwork(crawlHostOf(live), options)
}

/** Asks a key's k closest nodes of a crawl for its record; this node's own copy is read from its datastore. */
export async function keyHoldersFromNode (live: { node: WebkadNode, kad: KadInternals, datastore: Datastore }, crawl: CrawlResult, key: string, options: KeyHoldersOptions = {}): Promise<KeyHoldersResult> {
  return await findKeyHolders({
    ...crawlHostOf(live),
    async localRecord (keyBytes, abort) {
      let stored: Uint8Array
      try {
        stored = await live.datastore.get(kadRecordKey(keyBytes), abort)
      } catch {
        return undefined // nothing stored under the key
      }
      return Libp2pRecord.deserialize(stored).value
    }
  }, crawl, key, options)
}

function crawlHostOf (live: { node: WebkadNode, kad: KadInternals }): CrawlHost {
  return {
    node: live.node,
    routingTablePeers: () => live.kad.routingTablePeers().map(contact => contact.peerId),
    kBucketSize: live.kad.routingTable.kBucketSize
  }
}
