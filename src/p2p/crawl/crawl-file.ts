import { peerIdFromString } from '@libp2p/peer-id'
import { InvalidCrawlFileError } from '../errors.ts'
import type { CrawledNode, CrawlNodeKind, CrawlNodeStatus, CrawlResult } from './crawl-types.ts'

/**
 * The crawl as a JSON file (schema in the README, "Network map: crawl JSON"): written as the
 * CrawlResult itself, read back strictly, since a file may come from anywhere (another tab, an
 * edited download, a simulated network). Anything unexpected is refused with
 * InvalidCrawlFileError, so the map never draws half-checked data.
 */

export const CRAWL_FILE_FORMAT = 'webkad-crawl'
export const CRAWL_FILE_VERSION = 1
/** The largest file read (a 2000-node crawl with full tables is a few MB). */
export const MAX_CRAWL_FILE_CHARS = 16 * 1024 * 1024
/** The crawler's own cap on tracked nodes. */
export const MAX_CRAWL_FILE_NODES = 2000
export const MAX_NODE_ADDRESSES = 16
const MAX_ADDRESS_CHARS = 1024
const MAX_ERROR_CHARS = 1024
const MAX_PEER_ID_CHARS = 256

const KINDS: readonly CrawlNodeKind[] = ['self', 'tab', 'relay', 'other']
const STATUSES: readonly CrawlNodeStatus[] = ['self', 'crawled', 'unreachable', 'skipped']
const RESULT_KEYS = ['format', 'version', 'crawler', 'startedAt', 'finishedAt', 'kBucketSize', 'requests', 'cancelled', 'nodes']
const NODE_KEYS = ['peerId', 'kind', 'status', 'addresses', 'seenAt', 'crawledAt', 'requests', 'routingTable', 'error', 'truncated']
const REQUIRED_NODE_KEYS = ['peerId', 'kind', 'status', 'addresses', 'seenAt', 'requests', 'routingTable']

/** The crawl as the text of a .json file. */
export function crawlToJson (result: CrawlResult): string {
  return `${JSON.stringify(result, null, 2)}\n`
}

/** Reads a crawl file; throws InvalidCrawlFileError saying what is wrong and where. */
export function parseCrawlFile (text: string): CrawlResult {
  if (typeof text !== 'string') throw new InvalidCrawlFileError('a crawl file is text')
  if (text.length > MAX_CRAWL_FILE_CHARS) throw new InvalidCrawlFileError(`file larger than ${MAX_CRAWL_FILE_CHARS} characters`)
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (err) {
    throw new InvalidCrawlFileError(`not JSON: ${(err as Error).message}`)
  }
  const root = record(data, 'the file')
  exactKeys(root, RESULT_KEYS, RESULT_KEYS, 'the file')
  if (root.format !== CRAWL_FILE_FORMAT) throw new InvalidCrawlFileError(`format must be "${CRAWL_FILE_FORMAT}"`)
  if (root.version !== CRAWL_FILE_VERSION) throw new InvalidCrawlFileError(`version ${JSON.stringify(root.version)} is not supported (this app reads version ${CRAWL_FILE_VERSION})`)
  const crawler = peerIdText(root.crawler, 'crawler')
  const startedAt = timestamp(root.startedAt, 'startedAt')
  const finishedAt = timestamp(root.finishedAt, 'finishedAt')
  if (finishedAt < startedAt) throw new InvalidCrawlFileError('finishedAt is before startedAt')
  const kBucketSize = count(root.kBucketSize, 'kBucketSize', 1, 1024)
  const requests = count(root.requests, 'requests')
  if (typeof root.cancelled !== 'boolean') throw new InvalidCrawlFileError('cancelled must be true or false')
  if (!Array.isArray(root.nodes)) throw new InvalidCrawlFileError('nodes must be a list')
  if (root.nodes.length > MAX_CRAWL_FILE_NODES) throw new InvalidCrawlFileError(`more than ${MAX_CRAWL_FILE_NODES} nodes`)
  const nodes = root.nodes.map((node, index) => crawledNode(node, `nodes[${index}]`))

  const ids = new Set<string>()
  for (const [index, node] of nodes.entries()) {
    if (ids.has(node.peerId)) throw new InvalidCrawlFileError(`nodes[${index}]: peer ${node.peerId} is listed twice`)
    ids.add(node.peerId)
  }
  const selfNodes = nodes.filter(node => node.status === 'self')
  if (selfNodes.length !== 1 || selfNodes[0]?.peerId !== crawler) throw new InvalidCrawlFileError('exactly one node, the crawler, must have status "self"')
  for (const [index, node] of nodes.entries()) {
    for (const peer of node.routingTable) {
      if (!ids.has(peer)) throw new InvalidCrawlFileError(`nodes[${index}].routingTable names ${peer}, which is not among the nodes`)
      if (peer === node.peerId) throw new InvalidCrawlFileError(`nodes[${index}].routingTable holds the node itself`)
    }
  }
  return { format: CRAWL_FILE_FORMAT, version: CRAWL_FILE_VERSION, crawler, startedAt, finishedAt, kBucketSize, requests, cancelled: root.cancelled, nodes }
}

function crawledNode (value: unknown, where: string): CrawledNode {
  const node = record(value, where)
  exactKeys(node, NODE_KEYS, REQUIRED_NODE_KEYS, where)
  const peerId = peerIdText(node.peerId, `${where}.peerId`)
  const kind = oneOf(node.kind, KINDS, `${where}.kind`)
  const status = oneOf(node.status, STATUSES, `${where}.status`)
  if ((kind === 'self') !== (status === 'self')) throw new InvalidCrawlFileError(`${where}: kind "self" and status "self" go together`)
  const addresses = stringList(node.addresses, `${where}.addresses`, MAX_NODE_ADDRESSES, MAX_ADDRESS_CHARS)
  const routingTable = stringList(node.routingTable, `${where}.routingTable`, MAX_CRAWL_FILE_NODES, MAX_PEER_ID_CHARS)
  if (new Set(routingTable).size !== routingTable.length) throw new InvalidCrawlFileError(`${where}.routingTable lists a peer twice`)
  const result: CrawledNode = {
    peerId,
    kind,
    status,
    addresses,
    seenAt: timestamp(node.seenAt, `${where}.seenAt`),
    requests: count(node.requests, `${where}.requests`),
    routingTable
  }
  if (node.crawledAt !== undefined) result.crawledAt = timestamp(node.crawledAt, `${where}.crawledAt`)
  if (node.error !== undefined) result.error = stringList([node.error], `${where}.error`, 1, MAX_ERROR_CHARS)[0]
  if (node.truncated !== undefined) {
    if (typeof node.truncated !== 'boolean') throw new InvalidCrawlFileError(`${where}.truncated must be true or false`)
    result.truncated = node.truncated
  }
  return result
}

function record (value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidCrawlFileError(`${where} must be an object`)
  return value as Record<string, unknown>
}

function exactKeys (value: Record<string, unknown>, allowed: string[], required: string[], where: string): void {
  for (const key of Object.keys(value)) if (!allowed.includes(key)) throw new InvalidCrawlFileError(`${where}: unknown field "${key.slice(0, 64)}"`)
  for (const key of required) if (!Object.hasOwn(value, key)) throw new InvalidCrawlFileError(`${where}: field "${key}" is missing`)
}

function peerIdText (value: unknown, where: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_PEER_ID_CHARS) throw new InvalidCrawlFileError(`${where} must be a peer ID`)
  try {
    // The canonical form only: the map compares peer IDs as text.
    if (peerIdFromString(value).toString() !== value) throw new Error('not canonical')
  } catch {
    throw new InvalidCrawlFileError(`${where} is not a peer ID`)
  }
  return value
}

function timestamp (value: unknown, where: string): number {
  return count(value, where, 0, 8.64e15)
}

function count (value: unknown, where: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) throw new InvalidCrawlFileError(`${where} must be a whole number from ${min} to ${max}`)
  return value
}

function oneOf<T extends string> (value: unknown, allowed: readonly T[], where: string): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) throw new InvalidCrawlFileError(`${where} must be one of ${allowed.join(', ')}`)
  return value as T
}

function stringList (value: unknown, where: string, maxItems: number, maxChars: number): string[] {
  if (!Array.isArray(value)) throw new InvalidCrawlFileError(`${where} must be a list`)
  if (value.length > maxItems) throw new InvalidCrawlFileError(`${where} has more than ${maxItems} entries`)
  for (const item of value) {
    if (typeof item !== 'string' || item.length > maxChars) throw new InvalidCrawlFileError(`${where} entries must be text of at most ${maxChars} characters`)
  }
  return [...value] as string[]
}
