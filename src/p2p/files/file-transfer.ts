import { exporter } from 'ipfs-unixfs-exporter'
import { importFile } from 'ipfs-unixfs-importer'
import { FileNotFoundError } from '../errors.ts'
import type { FileBlockstore } from './blocks.ts'
import type { CID } from 'multiformats/cid'

/** The importer's fixed-size chunks: 256 KiB raw leaves, up to 174 links per node (the defaults). */
export const CHUNK_BYTES = 262_144

export interface ImportProgressEvent {
  type: 'webkad:files:import'
  detail: { bytesRead: number, totalBytes: number, blocks: number }
}

export interface ImportedFile {
  cid: CID
  size: number
  blocks: number
}

/**
 * Chunks a File/Blob into a UnixFS DAG (CIDv1, sha2-256, raw leaves) in the blockstore. The
 * file is read as a stream, so only the importer's write window (a few chunks) is in memory.
 */
export async function importBlob (blob: Blob, blockstore: FileBlockstore, options: { signal: AbortSignal, onProgress?(event: ImportProgressEvent): void }): Promise<ImportedFile> {
  // Distinct blocks: a file with repeated chunks (runs of zeros) puts the same block many times.
  const distinct = new Set<string>()
  let blocks = 0
  let bytesRead = 0
  const counting: Pick<FileBlockstore, 'put'> = {
    put: async (cid, bytes, putOptions) => {
      options.signal.throwIfAborted()
      const stored = await blockstore.put(cid, bytes, putOptions)
      distinct.add(cid.toString())
      blocks = distinct.size
      options.onProgress?.({ type: 'webkad:files:import', detail: { bytesRead, totalBytes: blob.size, blocks } })
      return stored
    }
  }
  const result = await importFile({ content: readBlob(blob, options.signal, (read) => { bytesRead = read }) }, counting, {
    cidVersion: 1,
    rawLeaves: true,
    // Hashing is fast; more would only hold more chunks in memory at once.
    blockWriteConcurrency: 8
  })
  // result.size counts the DAG's bytes (links and framing too); the file's own size is what was read.
  return { cid: result.cid, size: bytesRead, blocks }
}

async function * readBlob (blob: Blob, signal: AbortSignal, onRead: (bytes: number) => void): AsyncGenerator<Uint8Array> {
  const reader = blob.stream().getReader()
  let read = 0
  try {
    for (;;) {
      signal.throwIfAborted()
      const { done, value } = await reader.read()
      if (done) return
      read += value.byteLength
      onRead(read)
      yield value
    }
  } finally {
    reader.releaseLock()
  }
}

/** The file's bytes, in order, read block by block from the blockstore (never whole in memory). */
export async function * exportFile (cid: CID, blockstore: FileBlockstore, options: { signal?: AbortSignal } = {}): AsyncGenerator<Uint8Array> {
  const entry = await exporter(cid, blockstore, { signal: options.signal }).catch((err: unknown) => {
    throw new FileNotFoundError(`The blocks of ${cid.toString()} are not all here: ${(err as Error).message}`)
  })
  if (entry.type !== 'file' && entry.type !== 'raw') throw new FileNotFoundError(`${cid.toString()} is a ${entry.type}, not a file.`)
  yield * entry.content({ signal: options.signal })
}
