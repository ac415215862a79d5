import { kadInternals } from '../../../src/p2p/dht/kad-internals.ts'
import type { CrawlHost } from '../../../src/p2p/crawl/crawler.ts'
import type { WebkadNode } from '../../../src/p2p/node.ts'

/** A crawl host over a test node: the crawler as a tab runs it. */
export function crawlHost (node: WebkadNode): CrawlHost {
  const kad = kadInternals(node.services.dht)
  return { node, routingTablePeers: () => kad.routingTablePeers().map(contact => contact.peerId), kBucketSize: kad.routingTable.kBucketSize }
}
