/**
 * `npm run soak` (10 minutes; `npm run soak -- --minutes 2 --pool 6` to change): the soak loop
 * of soak-loop.ts in Chromium outside Playwright Test. Prints each round and the figures table,
 * writes bench/results/soak-latest.json (git-ignored) and exits non-zero when a criterion fails.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { ensureBuild, REPO_ROOT } from '../../test/harness/app-build.ts'
import { launchBrowser } from '../../test/harness/browser-launch.ts'
import { formatSoak, runSoak } from './soak-loop.ts'

function positive (name: string, text: string | undefined, fallback: number): number {
  if (text == null) return fallback
  const value = Number(text)
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number, got "${text}"`)
  return value
}

async function main (): Promise<number> {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string' },
      pool: { type: 'string' },
      warmup: { type: 'string' },
      json: { type: 'string' }
    }
  })
  const minutes = positive('minutes', values.minutes, 10)
  const poolSize = Math.round(positive('pool', values.pool, 5))
  const warmupRounds = Math.round(positive('warmup', values.warmup, 3))
  const output = values.json ?? join(REPO_ROOT, 'bench', 'results', 'soak-latest.json')

  console.log(`webkad soak: ${minutes} min, pool ${poolSize} tabs; ${cpus().length} cores, load average ${loadavg().map(value => value.toFixed(2)).join(' ')}`)
  console.log(ensureBuild())
  const browser = await launchBrowser()
  let result
  try {
    result = await runSoak({
      browser,
      durationMs: minutes * 60_000,
      minRounds: warmupRounds + 1,
      poolSize,
      warmupRounds,
      log: line => { console.log(line) }
    })
  } finally {
    await browser.close().catch(() => {})
  }
  console.log(`\n${formatSoak(result)}`)
  await mkdir(join(output, '..'), { recursive: true })
  await writeFile(output, JSON.stringify({ ...result, machine: { cores: cpus().length, loadAverageAtEnd: loadavg(), node: process.version } }, null, 2))
  console.log(`wrote ${output}`)
  return result.passed ? 0 : 1
}

main().then(
  (code) => { process.exit(code) },
  (err: unknown) => {
    console.error(err)
    process.exit(2)
  }
)
