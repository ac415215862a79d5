/** The shapes of a network crawl: its progress events and its result (also the crawl JSON file). */

export type CrawlNodeKind = 'self' | 'tab' | 'relay' | 'other'
/** self: the crawling tab (table read locally); skipped: heard of, not asked (cancelled, or past the node cap). */
export type CrawlNodeStatus = 'self' | 'crawled' | 'unreachable' | 'skipped'

export interface CrawledNode {
  peerId: string
  kind: CrawlNodeKind
  status: CrawlNodeStatus
  /** Its addresses as the crawler knew them (at most 16). */
  addresses: string[]
  /** When the crawl first heard of it (ms since the epoch). */
  seenAt: number
  /** When its last answer came (ms since the epoch). */
  crawledAt?: number
  /** FIND_NODE requests sent to it. */
  requests: number
  /**
   * Its reconstructed routing table: the peer IDs its answers named. kad-dht never tells a peer
   * about itself, so the crawling tab is missing from every other node's table.
   */
  routingTable: string[]
  /** Why it could not be crawled, or what cut its answers short. */
  error?: string
  /** The walk over its buckets stopped early (request cap, or an error after some answers). */
  truncated?: boolean
}

export interface CrawlResult {
  format: 'webkad-crawl'
  version: 1
  /** The peer ID of the node that crawled. */
  crawler: string
  startedAt: number
  finishedAt: number
  /** The crawler's bucket size (k). */
  kBucketSize: number
  /** FIND_NODE requests sent in all. */
  requests: number
  cancelled: boolean
  nodes: CrawledNode[]
}

export interface CrawlCounts {
  /** Nodes whose tables were read (answers came). */
  crawled: number
  /** Nodes heard of, this one included. */
  found: number
  unreachable: number
  /** FIND_NODE requests sent. */
  requests: number
}

export type CrawlProgressEvent =
  | { name: 'crawl:found', peerId: string, counts: CrawlCounts }
  | { name: 'crawl:request', peerId: string, /** The keyspace region probed, as bits ('' = all). */ prefix: string, counts: CrawlCounts }
  | { name: 'crawl:crawled', peerId: string, counts: CrawlCounts }
  | { name: 'crawl:unreachable', peerId: string, error: string, counts: CrawlCounts }
