import type { FileEntry, FileSharing } from '../../p2p/files/file-sharing.ts'

/** From this size on, a file is written to disk as a stream where the browser can (File System Access API). */
export const STREAMED_DOWNLOAD_BYTES = 1024 ** 3

interface SaveFilePicker {
  showSaveFilePicker?(options: { suggestedName: string }): Promise<{ createWritable(): Promise<{ write(chunk: Uint8Array): Promise<void>, close(): Promise<void>, abort(): Promise<void> }> }>
}

/**
 * Offers a complete file for download under its original name. Files of 1 GiB and more are
 * streamed block by block into a file the user picks (File System Access API); smaller ones,
 * and every file where that API is missing, become a Blob assembled from the stored blocks
 * (Chromium keeps large Blobs on disk, other browsers may hold them in memory).
 */
export async function saveFile (sharing: FileSharing, entry: FileEntry): Promise<void> {
  const picker = (window as unknown as SaveFilePicker).showSaveFilePicker
  if (entry.size >= STREAMED_DOWNLOAD_BYTES && picker != null) {
    const handle = await picker.call(window, { suggestedName: entry.name })
    const writable = await handle.createWritable()
    try {
      for await (const chunk of sharing.read(entry.cid)) await writable.write(chunk)
      await writable.close()
    } catch (err) {
      await writable.abort().catch(() => {})
      throw err
    }
    return
  }
  const parts: BlobPart[] = []
  for await (const chunk of sharing.read(entry.cid)) parts.push(chunk as Uint8Array<ArrayBuffer>)
  const url = URL.createObjectURL(new Blob(parts))
  const anchor = document.createElement('a')
  anchor.href = url
  anchor.download = entry.name
  document.body.append(anchor)
  anchor.click()
  anchor.remove()
  // The download has taken its copy once the click is handled.
  setTimeout(() => { URL.revokeObjectURL(url) }, 60_000)
}
