/**
 * The built app (dist/) that the relay serves to the tabs, for e2e and bench alike: where it is,
 * and a build when it is missing or older than its sources.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))
/** The page the relay serves (`--serve dist`); its mtime dates the last build. */
export const DIST_INDEX = join(REPO_ROOT, 'dist', 'index.html')

/** Inputs of `vite build`: a change to any of them makes dist/ stale. */
const BUILD_INPUTS = ['src', 'public', 'index.html', 'vite.config.ts', 'package-lock.json', 'patches']

function newestMtime (path: string): number {
  if (!existsSync(path)) return 0
  const stat = statSync(path)
  if (!stat.isDirectory()) return stat.mtimeMs
  let newest = stat.mtimeMs
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)))
  return newest
}

/** Why dist/ needs a build, or undefined when it is up to date. */
export function staleReason (): string | undefined {
  if (!existsSync(DIST_INDEX)) return 'dist/ is missing'
  const built = statSync(DIST_INDEX).mtimeMs
  const newest = Math.max(...BUILD_INPUTS.map(input => newestMtime(join(REPO_ROOT, input))))
  return newest > built ? 'sources changed since the last build' : undefined
}

/** Runs `npx vite build` if needed; returns what it did, for the run's log. */
export function ensureBuild (): string {
  const reason = staleReason()
  if (reason == null) return 'dist/ is up to date'
  const startedAt = performance.now()
  const result = spawnSync('npx', ['vite', 'build'], { cwd: REPO_ROOT, encoding: 'utf8' })
  if (result.status !== 0) {
    throw new Error(`vite build failed (${reason}):\n${result.stdout}\n${result.stderr}`)
  }
  return `built dist/ (${reason}) in ${((performance.now() - startedAt) / 1000).toFixed(1)} s`
}
