/**
 * Runs every webkad benchmark, prints one table per section (each figure beside its same-run
 * baseline, the ratio and the goal) and writes bench/results/latest.json.
 *
 *   npm run bench              full run
 *   npm run bench:quick        smaller sizes, under 3 minutes
 *   npm run bench -- --only streams,dht   a subset (section ids below)
 */
import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { ensureBuild, REPO_ROOT } from '../test/harness/app-build.ts'
import { launchBrowser } from '../test/harness/browser-launch.ts'
import { formatSection } from './lib/standalone.ts'
import { runConnectionSetup } from './browser/connection-setup.ts'
import { runStreams } from './browser/streams.ts'
import { runBrowserDht } from './browser/dht.ts'
import { runPageLoad } from './browser/page.ts'
import { runFiles } from './browser/files.ts'
import { runFilesLarge } from './browser/files-large.ts'
import { runRelayRestart } from './node/relay-restart.ts'
import type { Browser } from 'playwright-core'
import type { BenchOptions, BenchSection } from './lib/types.ts'

interface SectionSpec {
  id: string
  run: (options: BenchOptions, browser: () => Promise<Browser>) => Promise<BenchSection | undefined>
}

/** Node-side sections live in bench/node/ (written separately); each is optional. */
function nodeSection (id: string, file: string, exportName: string): SectionSpec {
  return {
    id,
    async run (options) {
      const path = join(REPO_ROOT, 'bench', 'node', file)
      if (!existsSync(path)) return undefined
      const module = await import(pathToFileURL(path).href) as Record<string, unknown>
      const run = module[exportName]
      if (typeof run !== 'function') throw new Error(`${file} does not export ${exportName}()`)
      return await (run as (options: BenchOptions) => Promise<BenchSection>)(options)
    }
  }
}

const SECTIONS: SectionSpec[] = [
  { id: 'connection', run: async (options, browser) => await runConnectionSetup({ ...options, browser: await browser() }) },
  { id: 'streams', run: async (options, browser) => await runStreams({ ...options, browser: await browser() }) },
  { id: 'dht', run: async (options, browser) => await runBrowserDht({ ...options, browser: await browser() }) },
  { id: 'page', run: async (options, browser) => await runPageLoad({ ...options, browser: await browser() }) },
  { id: 'files', run: async (options, browser) => await runFiles({ ...options, browser: await browser() }) },
  // Its own Chromium (it reads each renderer's peak memory), full runs only.
  { id: 'files-large', run: async (options) => await runFilesLarge(options) },
  nodeSection('simulated-network', 'simulated-network.ts', 'runSimulatedNetwork'),
  nodeSection('crawl', 'simulated-crawl.ts', 'runSimulatedCrawl'),
  nodeSection('relay-capacity', 'relay-capacity.ts', 'runRelayCapacity'),
  { id: 'relay-restart', run: async (options, browser) => await runRelayRestart({ ...options, browser: await browser() }) }
]

interface SectionResult extends BenchSection {
  id: string
  durationMs: number
  /** 1-minute load average before and after: these machines are shared, figures move with it. */
  loadAverage: [number, number]
  error?: string
}

function parseArgs (argv: string[]): { quick: boolean, only?: Set<string> } {
  const quick = argv.includes('--quick')
  const onlyIndex = argv.indexOf('--only')
  const onlyText = onlyIndex >= 0 ? argv[onlyIndex + 1] : argv.find(arg => arg.startsWith('--only='))?.slice('--only='.length)
  return { quick, ...(onlyText != null ? { only: new Set(onlyText.split(',').map(id => id.trim())) } : {}) }
}

function seconds (ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`
}

async function main (): Promise<void> {
  const { quick, only } = parseArgs(process.argv.slice(2))
  const startedAt = new Date()
  const clock = performance.now()
  console.log(`webkad benchmarks, ${quick ? 'quick' : 'full'} run; ${cpus().length} cores, load average ${loadavg().map(value => value.toFixed(2)).join(' ')}`)
  console.log(ensureBuild())

  let browser: Promise<Browser> | undefined
  const sharedBrowser = async (): Promise<Browser> => await (browser ??= launchBrowser())

  const results: SectionResult[] = []
  try {
    for (const spec of SECTIONS) {
      if (only != null && !only.has(spec.id)) continue
      const sectionClock = performance.now()
      const loadBefore = loadavg()[0] as number
      console.log(`\n[${spec.id}] running… (load average ${loadBefore.toFixed(2)})`)
      let result: SectionResult
      try {
        const section = await spec.run({ quick }, sharedBrowser)
        if (section == null) {
          console.log(`[${spec.id}] skipped: its module is not there`)
          continue
        }
        result = { id: spec.id, ...section, durationMs: performance.now() - sectionClock, loadAverage: [loadBefore, loadavg()[0] as number] }
      } catch (err) {
        const error = err instanceof Error ? (err.stack ?? err.message) : String(err)
        result = { id: spec.id, title: `${spec.id}: FAILED`, rows: [], notes: [error.split('\n').slice(0, 6).join(' ')], durationMs: performance.now() - sectionClock, loadAverage: [loadBefore, loadavg()[0] as number], error }
      }
      results.push(result)
      console.log(`\n${formatSection(result)}(${spec.id} took ${seconds(result.durationMs)}; load average ${result.loadAverage.map(value => value.toFixed(2)).join(' → ')})`)
    }
  } finally {
    if (browser != null) await (await browser).close().catch(() => {})
  }

  const durationMs = performance.now() - clock
  const goals = results.flatMap(section => section.rows.filter(row => row.met != null).map(row => ({ section: section.id, metric: row.metric, met: row.met as boolean })))
  const missed = goals.filter(goal => !goal.met)
  console.log(`\n${'='.repeat(72)}`)
  for (const section of results) {
    const rows = section.rows.filter(row => row.met != null)
    const status = section.error != null ? 'FAILED' : `${rows.filter(row => row.met === true).length}/${rows.length} goals met`
    console.log(`${section.id.padEnd(20)} ${seconds(section.durationMs).padStart(8)}  ${status}`)
  }
  console.log(`goals met: ${goals.length - missed.length}/${goals.length}${missed.length > 0 ? `; NOT MET: ${missed.map(goal => `${goal.section}: ${goal.metric}`).join('; ')}` : ''}`)
  console.log(`total ${seconds(durationMs)} (${quick ? 'quick' : 'full'})`)

  const resultsDir = join(REPO_ROOT, 'bench', 'results')
  await mkdir(resultsDir, { recursive: true })
  // A partial run (--only) must not replace the last complete one.
  const file = join(resultsDir, only == null ? 'latest.json' : `latest-only-${[...only].join('-')}.json`)
  await writeFile(file, JSON.stringify({
    startedAt: startedAt.toISOString(),
    quick,
    durationMs: Math.round(durationMs),
    machine: { cores: cpus().length, cpu: cpus()[0]?.model, loadAverageAtEnd: loadavg(), node: process.version },
    sections: results
  }, null, 2))
  console.log(`wrote ${file}`)
  if (results.some(section => section.error != null)) process.exitCode = 1
}

await main()
// A section may leave handles behind (worker processes, timers); the run is over.
process.exit()
