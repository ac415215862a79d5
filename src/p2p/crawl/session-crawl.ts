import { crawlNetwork } from './crawler.ts'
import type { CrawlOptions } from './crawler.ts'
import type { CrawlResult } from './crawl-types.ts'
import type { KadInternals } from '../dht/kad-internals.ts'
import type { WebkadNode } from '../node.ts'

export type { CrawlOptions } from './crawler.ts'
export type { CrawlProgressEvent, CrawlResult } from './crawl-types.ts'
export { crawlToJson, parseCrawlFile } from './crawl-file.ts'

/**
 * A crawl from a tab's live node: its own k-buckets (read through the one kad-dht adapter) are
 * the seeds and its own table. Kept out of session.ts, which loads this module on first use.
 */
export async function crawlFromNode (live: { node: WebkadNode, kad: KadInternals }, options: CrawlOptions = {}): Promise<CrawlResult> {
  return await crawlNetwork({
    node: live.node,
    routingTablePeers: () => live.kad.routingTablePeers().map(contact => contact.peerId),
    kBucketSize: live.kad.routingTable.kBucketSize
  }, options)
}
