import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import fc from 'fast-check'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { crawlToJson, MAX_CRAWL_FILE_CHARS, parseCrawlFile } from '../../../src/p2p/crawl/crawl-file.ts'
import { crawlNetwork } from '../../../src/p2p/crawl/crawler.ts'
import { InvalidCrawlFileError } from '../../../src/p2p/errors.ts'
import { fuzzRuns } from '../../fuzz/fuzz-runs.ts'
import { startDhtNetwork, stopDhtNetwork } from '../dht/dht-network.ts'
import { crawlHost } from './crawl-host.ts'
import type { CrawlResult } from '../../../src/p2p/crawl/crawl-types.ts'
import type { TestDhtNode } from '../dht/dht-network.ts'

const runs = fuzzRuns(0x5eed_c4a1)
let sample: CrawlResult

beforeAll(async () => {
  const ids = await Promise.all(Array.from({ length: 4 }, async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()))
  const [self, a, b, c] = ids as [string, string, string, string]
  sample = {
    format: 'webkad-crawl',
    version: 1,
    crawler: self,
    startedAt: 1_700_000_000_000,
    finishedAt: 1_700_000_000_150,
    kBucketSize: 20,
    requests: 3,
    cancelled: false,
    nodes: [
      { peerId: self, kind: 'self', status: 'self', addresses: [], seenAt: 1_700_000_000_000, crawledAt: 1_700_000_000_000, requests: 0, routingTable: [a, b] },
      { peerId: a, kind: 'relay', status: 'crawled', addresses: ['/ip4/127.0.0.1/tcp/4001/ws'], seenAt: 1_700_000_000_001, crawledAt: 1_700_000_000_040, requests: 2, routingTable: [b, c] },
      { peerId: b, kind: 'tab', status: 'crawled', addresses: [], seenAt: 1_700_000_000_001, crawledAt: 1_700_000_000_060, requests: 1, routingTable: [a], truncated: true },
      { peerId: c, kind: 'other', status: 'unreachable', addresses: [], seenAt: 1_700_000_000_041, requests: 0, routingTable: [], error: 'TimeoutError: timed out' }
    ]
  }
})

function refusal (text: string): string | undefined {
  try {
    parseCrawlFile(text)
    return undefined
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidCrawlFileError)
    return (err as Error).message
  }
}

describe('crawl JSON: export and strict import', () => {
  let network: TestDhtNode[] = []
  afterEach(async () => { await stopDhtNetwork(network); network = [] })

  it('round-trips a real crawl of a 4-node network', async () => {
    network = await startDhtNetwork(4, 20)
    const result = await crawlNetwork(crawlHost(network[0]!.node))
    const text = crawlToJson(result)
    expect(parseCrawlFile(text)).toEqual(result)
    expect(parseCrawlFile(text).nodes).toHaveLength(4)
  })

  it('round-trips the sample, optional fields included', () => {
    expect(parseCrawlFile(crawlToJson(sample))).toEqual(sample)
  })

  it.each([
    ['not JSON', 'webkad'],
    ['JSON but no object', '[1, 2]'],
    ['another format', () => ({ ...sample, format: 'nebula' })],
    ['a later version', () => ({ ...sample, version: 2 })],
    ['an unknown field', () => ({ ...sample, extra: 1 })],
    ['a missing field', () => { const { requests: _, ...rest } = sample; return rest }],
    ['a crawler that is no peer ID', () => ({ ...sample, crawler: 'QmNotAPeer' })],
    ['finishedAt before startedAt', () => ({ ...sample, finishedAt: 1 })],
    ['a fractional request count', () => ({ ...sample, requests: 1.5 })],
    ['a node listed twice', () => ({ ...sample, nodes: [...sample.nodes, sample.nodes[1]] })],
    ['no self node', () => ({ ...sample, nodes: sample.nodes.slice(1).map(node => ({ ...node, routingTable: [] })) })],
    ['a table naming an unknown peer', () => ({ ...sample, nodes: sample.nodes.map((node, index) => index === 1 ? { ...node, routingTable: [...node.routingTable, sample.crawler.slice(0, -1) + 'x'] } : node) })],
    ['a table holding the node itself', () => ({ ...sample, nodes: sample.nodes.map((node, index) => index === 1 ? { ...node, routingTable: [node.peerId] } : node) })],
    ['an unknown status', () => ({ ...sample, nodes: sample.nodes.map((node, index) => index === 3 ? { ...node, status: 'lost' } : node) })],
    ['17 addresses', () => ({ ...sample, nodes: sample.nodes.map((node, index) => index === 1 ? { ...node, addresses: Array.from({ length: 17 }, () => '/ip4/127.0.0.1/tcp/1') } : node) })]
  ])('refuses %s with InvalidCrawlFileError', (_, input) => {
    const text = typeof input === 'string' ? input : JSON.stringify(input())
    expect(refusal(text)).toBeDefined()
  })

  it('refuses a file over the size limit before parsing it', () => {
    const started = performance.now()
    expect(refusal(' '.repeat(MAX_CRAWL_FILE_CHARS + 1))).toMatch(/larger/)
    expect(performance.now() - started).toBeLessThan(1000)
  })
})

describe('crawl JSON parser (fuzz)', () => {
  /** Anything the parser accepts is a crawl file that reads back as itself. */
  function checkOutcome (text: string): void {
    let parsed: CrawlResult
    try {
      parsed = parseCrawlFile(text)
    } catch (err) {
      expect(err).toBeInstanceOf(InvalidCrawlFileError)
      return
    }
    expect(parseCrawlFile(crawlToJson(parsed))).toEqual(parsed)
    expect(parsed.nodes.filter(node => node.status === 'self').map(node => node.peerId)).toEqual([parsed.crawler])
  }

  it('arbitrary text and JSON values: only InvalidCrawlFileError', () => {
    fc.assert(fc.property(fc.oneof(fc.string(), fc.json(), fc.jsonValue().map(value => JSON.stringify(value))), checkOutcome), runs(2000))
  })

  it('edits of a valid file (a field replaced, removed or added, at any depth): only InvalidCrawlFileError or a valid crawl', () => {
    const paths = (value: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> => {
      if (typeof value !== 'object' || value === null) return [prefix]
      const entries = Array.isArray(value) ? value.map((item, index) => [index, item] as const) : Object.entries(value)
      return [prefix, ...entries.flatMap(([key, item]) => paths(item, [...prefix, key]))]
    }
    const all = paths(sample).filter(path => path.length > 0)
    fc.assert(fc.property(fc.constantFrom(...all), fc.oneof(fc.jsonValue(), fc.constant(undefined)), (path, replacement) => {
      const copy = structuredClone(sample) as unknown as Record<string | number, unknown>
      let parent: Record<string | number, unknown> = copy
      for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>
      const last = path.at(-1)!
      if (replacement === undefined) delete parent[last]
      else parent[last] = replacement
      checkOutcome(JSON.stringify(copy))
    }), runs(3000))
  })

  it('truncated and byte-flipped files: only InvalidCrawlFileError or a valid crawl', () => {
    const text = crawlToJson(sample)
    fc.assert(fc.property(fc.nat(text.length), fc.nat(text.length), fc.string({ maxLength: 3 }), (cut, at, insert) => {
      checkOutcome(text.slice(0, cut))
      checkOutcome(text.slice(0, at) + insert + text.slice(at + 1))
    }), runs(2000))
  })
})
