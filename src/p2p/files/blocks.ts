import * as dagPb from '@ipld/dag-pb'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { UnixFS } from 'ipfs-unixfs'
import { InvalidCidError } from '../errors.ts'
import type { AbortOptions } from '@libp2p/interface'
import type { Blockstore } from 'interface-blockstore'

/** The blockstore a tab keeps its files' blocks in (IndexedDB per identity; memory in Node tests). */
export type FileBlockstore = Pick<Blockstore, 'put' | 'get' | 'has' | 'delete'>

/**
 * Parses a file's root CID as pasted or linked (`#cid=…`, or the bare CID). Only what the
 * importer makes can be fetched: sha2-256, dag-pb or raw.
 */
export function parseFileCid (text: string): CID {
  const trimmed = parseFileLink(text).cid
  if (trimmed === '') throw new InvalidCidError('Enter the CID of a file (it starts with "bafy" or "bafk").')
  let cid: CID
  try {
    cid = CID.parse(trimmed)
  } catch (err) {
    throw new InvalidCidError(`"${trimmed.length > 60 ? trimmed.slice(0, 60) + '…' : trimmed}" is not a CID: ${(err as Error).message}`)
  }
  if (cid.multihash.code !== sha256.code) throw new InvalidCidError(`The CID uses hash 0x${cid.multihash.code.toString(16)}; webkad fetches sha2-256 blocks only.`)
  if (cid.code !== dagPb.code && cid.code !== raw.code) throw new InvalidCidError(`The CID's codec 0x${cid.code.toString(16)} is not a UnixFS file (dag-pb or raw).`)
  return cid.toV1()
}

/** The CID (and file name) of a shared link `…#cid=<cid>&name=<name>`, or of a bare CID. */
export function parseFileLink (text: string): { cid: string, name?: string } {
  const trimmed = text.trim()
  const hash = trimmed.indexOf('#')
  if (hash < 0) return { cid: trimmed }
  const params = new URLSearchParams(trimmed.slice(hash + 1))
  return { cid: (params.get('cid') ?? '').trim(), name: params.get('name') ?? undefined }
}

/** The fragment of a shareable link to a file: `#cid=<cid>&name=<name>`. */
export function fileLinkFragment (cid: string, name: string): string {
  return `#${new URLSearchParams({ cid, name }).toString()}`
}

/** True when `bytes` hash to the CID's sha2-256 digest. Every fetched block passes this before it is stored. */
export async function blockMatchesCid (cid: CID, bytes: Uint8Array): Promise<boolean> {
  if (cid.multihash.code !== sha256.code) return false
  const digest = await sha256.digest(bytes)
  const expected = cid.multihash.digest
  if (digest.digest.byteLength !== expected.byteLength) return false
  for (let index = 0; index < expected.byteLength; index++) if (digest.digest[index] !== expected[index]) return false
  return true
}

/** What a verified block says about the file: its children to fetch, and (for the root) the file size. */
export interface BlockLinks {
  /** Children in file order. */
  children: CID[]
  /** File bytes under each child (UnixFS blockSizes), when the node lists them. */
  childSizes?: number[]
  /** The UnixFS file size under this block. */
  fileSize?: number
  /** File bytes held in this block itself (a raw leaf's bytes, a dag-pb node's inline data). */
  ownBytes: number
}

/** The links of a block: a raw leaf has none; a dag-pb node lists its children in file order. */
export function blockLinks (cid: CID, bytes: Uint8Array): BlockLinks {
  if (cid.code === raw.code) return { children: [], fileSize: bytes.byteLength, ownBytes: bytes.byteLength }
  const node = dagPb.decode(bytes)
  const unixfs = node.Data != null ? UnixFS.unmarshal(node.Data) : undefined
  const childSizes = unixfs != null && unixfs.blockSizes.length === node.Links.length ? unixfs.blockSizes.map(Number) : undefined
  return { children: node.Links.map(link => link.Hash.toV1()), childSizes, fileSize: unixfs != null ? Number(unixfs.fileSize()) : undefined, ownBytes: unixfs?.data?.byteLength ?? 0 }
}

/** A stored block's bytes (blockstores hand them out in chunks). */
export async function readBlock (blockstore: FileBlockstore, cid: CID, options?: AbortOptions): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  let length = 0
  for await (const chunk of blockstore.get(cid, options)) {
    chunks.push(chunk)
    length += chunk.byteLength
  }
  if (chunks.length === 1 && chunks[0] != null) return chunks[0]
  const bytes = new Uint8Array(length)
  let offset = 0
  for (const chunk of chunks) {
    bytes.set(chunk, offset)
    offset += chunk.byteLength
  }
  return bytes
}

/** Every block CID of a file stored here, root first (depth first, in file order). */
export async function * walkStoredFile (blockstore: FileBlockstore, root: CID, options?: AbortOptions): AsyncGenerator<{ cid: CID, bytes: Uint8Array }> {
  const stack = [root]
  while (stack.length > 0) {
    const cid = stack.pop()
    if (cid == null) break
    const bytes = await readBlock(blockstore, cid, options)
    yield { cid, bytes }
    stack.push(...blockLinks(cid, bytes).children.reverse())
  }
}
