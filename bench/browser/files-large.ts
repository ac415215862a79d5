/**
 * Section `files-large` (full runs only): a 1 GiB file from disk shared by one tab and fetched
 * by another through the DHT, IndexedDB at both ends, with the peak memory of every renderer
 * process (VmHWM from /proc) beside the file's size: the check that chunking, storing and
 * fetching are streamed, not held whole in memory.
 *
 * The file is chosen through a real file input (Playwright's setInputFiles hands Chromium the
 * path, so the File is disk-backed, as when a user picks one) and passed to FileSharing.share,
 * which is what the Files panel's input does.
 */
import { randomFillSync } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import { allowTsxPageFunctions, chromiumLaunchOptions } from '../../test/harness/browser-launch.ts'
import { watchPageErrors } from '../../test/harness/page-errors.ts'
import { startRelayProcess } from '../../test/harness/relay-process.ts'
import { connectTab } from '../lib/browser-harness.ts'
import { round } from '../lib/stats.ts'
import type { BrowserBenchOptions, BenchTab } from '../lib/browser-harness.ts'
import type { BenchSection } from '../lib/types.ts'
import type { BrowserContext } from 'playwright-core'

const MiB = 1024 * 1024
const FILE_BYTES = 1024 * MiB
/** "Not the whole file in memory": every renderer's peak resident memory stays under this. */
const GOAL_PEAK_RSS_BYTES = 512 * MiB

/** Writes `bytes` of random data to a new file (4 MiB at a time) and returns its path. */
async function writeRandomFile (directory: string, bytes: number): Promise<string> {
  const path = join(directory, 'large.bin')
  const out = createWriteStream(path)
  const chunk = Buffer.alloc(4 * MiB)
  for (let written = 0; written < bytes; written += chunk.byteLength) {
    randomFillSync(chunk)
    if (!out.write(chunk.subarray(0, Math.min(chunk.byteLength, bytes - written)))) await new Promise<void>(resolve => out.once('drain', () => { resolve() }))
  }
  await new Promise<void>((resolve, reject) => { out.end((err?: Error | null) => { if (err != null) reject(err); else resolve() }) })
  return path
}

interface ProcessPeak { type: string, bytes: number }

/** Peak resident memory (VmHWM, from /proc) of the browser's own process and of each renderer. */
async function processPeaks (context: BrowserContext): Promise<ProcessPeak[]> {
  const browser = context.browser()
  if (browser == null) throw new Error('no browser behind the context')
  const session = await browser.newBrowserCDPSession()
  try {
    const { processInfo } = await session.send('SystemInfo.getProcessInfo') as { processInfo: Array<{ type: string, id: number }> }
    const peaks: ProcessPeak[] = []
    for (const info of processInfo.filter(entry => entry.type === 'renderer' || entry.type === 'browser')) {
      const status = await readFile(`/proc/${info.id}/status`, 'utf8').catch(() => '')
      const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN)
      if (Number.isFinite(kb)) peaks.push({ type: info.type, bytes: kb * 1024 })
    }
    return peaks
  } finally {
    await session.detach().catch(() => {})
  }
}

function describePeaks (peaks: ProcessPeak[]): string {
  return peaks.map(peak => `${peak.type} ${round(peak.bytes / MiB)}`).join(', ')
}

/** Bytes under a directory (what the profile's IndexedDB holds on disk). */
async function diskBytes (directory: string): Promise<number> {
  const { execFileSync } = await import('node:child_process')
  return Number(execFileSync('du', ['-sb', directory], { encoding: 'utf8' }).split('\t')[0])
}

export async function runFilesLarge (options: BrowserBenchOptions): Promise<BenchSection> {
  const title = 'Files: a 1 GiB file between two tabs'
  if (options.quick) return { title, rows: [], notes: ['skipped in quick runs (a 1 GiB file takes minutes here); run `npm run bench -- --only files-large`'] }
  const directory = await mkdtemp(join(tmpdir(), 'webkad-large-'))
  try {
    const path = await writeRandomFile(directory, FILE_BYTES)
    // Its own browser with a profile on disk: a Playwright context made by newContext() is off
    // the record, and Chromium keeps the IndexedDB of such a context in memory.
    const profile = join(directory, 'profile')
    const relay = await startRelayProcess({})
    const context = await chromium.launchPersistentContext(profile, chromiumLaunchOptions())
    const pageErrors: string[] = []
    try {
      await allowTsxPageFunctions(context)
      const openTab = async (label: string): Promise<BenchTab> => {
        const page = await context.newPage()
        watchPageErrors(page, label, pageErrors)
        await page.goto(relay.appUrl)
        await page.waitForFunction(() => window.webkad != null, undefined, { timeout: 20_000 })
        const tab = { page, label, peerId: await page.evaluate(() => window.webkad?.peerId ?? '') }
        await connectTab(tab, relay.multiaddr)
        return tab
      }
      const [provider, fetcher] = [await openTab('provider'), await openTab('fetcher')]
      for (const tab of [provider, fetcher]) await tab.page.waitForFunction(() => window.webkadFiles != null, undefined, { timeout: 20_000 })
      const peaksBefore = await processPeaks(context)
      const diskBefore = await diskBytes(profile)

      await provider.page.evaluate(() => {
        const input = document.createElement('input')
        input.type = 'file'
        input.id = 'bench-large-file'
        input.hidden = true
        document.body.append(input)
      })
      await provider.page.setInputFiles('#bench-large-file', path)
      const shared = await provider.page.evaluate(async () => {
        const file = (document.getElementById('bench-large-file') as HTMLInputElement).files?.[0]
        if (file == null || window.webkadFiles == null) throw new Error('no file or no files feature')
        const startedAt = performance.now()
        const result = await window.webkadFiles.share(file, { signal: AbortSignal.timeout(20 * 60_000) })
        return { cid: result.entry.cid, blocks: result.entry.blocks, size: result.entry.size, ms: performance.now() - startedAt }
      })
      const fetched = await fetcher.page.evaluate(async (cid) => {
        const files = window.webkadFiles
        if (files == null) throw new Error('no files feature')
        const entry = await files.fetch(cid, { signal: AbortSignal.timeout(30 * 60_000) })
        const progress = files.transfers.getSnapshot().find(view => view.cid === cid)?.progress
        if (progress?.firstBlockAt == null || progress.finishedAt == null) throw new Error('no timing in the transfer')
        const estimate = await navigator.storage.estimate()
        return { size: entry.size, blocks: entry.blocks, complete: entry.complete, transferMs: progress.finishedAt - progress.firstBlockAt, usage: estimate.usage ?? 0, quota: estimate.quota ?? 0 }
      }, shared.cid)
      const peaks = await processPeaks(context)
      const peak = Math.max(...peaks.map(entry => entry.bytes))
      const diskGrowth = await diskBytes(profile) - diskBefore
      const mbit = fetched.size * 8 / (fetched.transferMs / 1000) / 1e6
      const intact = fetched.complete && fetched.size === FILE_BYTES && fetched.blocks === shared.blocks
      return {
        title,
        rows: [
          {
            metric: '1 GiB file: share (chunk, hash, store in IndexedDB)',
            value: round(shared.ms / 1000),
            unit: 's',
            note: `${shared.blocks} blocks, ${round(FILE_BYTES / MiB / (shared.ms / 1000))} MiB/s, the file picked from disk through a file input`
          },
          {
            metric: '1 GiB file: transfer, one provider',
            value: round(mbit),
            unit: 'Mbit/s',
            goal: 'complete, every block verified',
            met: intact,
            note: `${fetched.blocks} blocks of ${shared.blocks}, ${fetched.size} bytes, in ${round(fetched.transferMs / 1000)} s; the origin's storage after it ${round(fetched.usage / MiB)} MiB of a ${round(fetched.quota / MiB / 1024)} GiB quota (both tabs share the origin), and the browser profile on disk grew ${round(diskGrowth / MiB)} MiB`
          },
          {
            metric: '1 GiB file: peak memory of any browser process',
            value: round(peak / MiB),
            unit: 'MiB',
            baseline: FILE_BYTES / MiB,
            baselineLabel: 'the file',
            goal: `≤ ${GOAL_PEAK_RSS_BYTES / MiB} MiB`,
            met: peak <= GOAL_PEAK_RSS_BYTES,
            note: `VmHWM (peak resident memory over the process's life) of the browser process and each renderer: ${describePeaks(peaks)} MiB (before the share: ${describePeaks(peaksBefore)})`
          }
        ],
        notes: [
          'Two tabs and a relay on this machine, in a Chromium profile on disk; the file is random bytes written to a temporary file. The download step (saved to disk through the File System Access dialog from 1 GiB) is not driven here: it needs a user-chosen file.',
          ...(pageErrors.length > 0 ? [`page errors: ${pageErrors.join('; ')}`] : [])
        ]
      }
    } finally {
      await context.close().catch(() => {})
      await relay.dispose()
    }
  } finally {
    await rm(directory, { recursive: true, force: true })
  }
}
