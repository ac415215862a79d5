/**
 * Makes sure a Chromium binary is available for the Playwright e2e tests.
 *
 * Run with `npx tsx scripts/ensure-chromium.ts`. Lookup order: $CHROMIUM_PATH,
 * /usr/bin/chromium, /usr/bin/chromium-browser. When none exists and we run as
 * root, tries `apt-get install -y chromium` (running `apt-get update` first only
 * if that install fails). Prints the path on success; exits 1 otherwise.
 */
import { spawnSync } from 'node:child_process'
import { accessSync, constants, realpathSync } from 'node:fs'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser']

const NOT_FOUND_MESSAGE =
  'Chromium not found: install it with "sudo apt-get install -y chromium" or set CHROMIUM_PATH=/path/to/chromium'

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** Returns the path of a usable Chromium binary, or undefined. */
export function findChromium(): string | undefined {
  const fromEnv = process.env.CHROMIUM_PATH
  const candidates = fromEnv !== undefined && fromEnv !== '' ? [fromEnv, ...CANDIDATES] : CANDIDATES
  return candidates.find(isExecutable)
}

/** Runs a command with inherited stdio; returns true on exit code 0. */
function run(command: string, args: string[]): boolean {
  const result = spawnSync(command, args, {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  })
  return result.status === 0
}

function installWithApt(): void {
  if (!run('apt-get', ['install', '-y', 'chromium'])) {
    run('apt-get', ['update'])
    run('apt-get', ['install', '-y', 'chromium'])
  }
}

function main(): void {
  let path = findChromium()
  if (path === undefined && process.getuid?.() === 0) {
    installWithApt()
    path = findChromium()
  }
  if (path === undefined) {
    console.error(NOT_FOUND_MESSAGE)
    process.exit(1)
  }
  console.log(path)
}

function isMainModule(): boolean {
  const entry = process.argv[1]
  if (entry === undefined) return false
  try {
    return realpathSync(resolve(entry)) === realpathSync(fileURLToPath(import.meta.url))
  } catch {
    return false
  }
}

if (isMainModule()) {
  main()
}
