/**
 * Compiles the relay (relay/bin.ts and everything it imports from relay/ and src/p2p/) to plain
 * JavaScript in dist-relay/, so the relay runs on Node without a TypeScript loader at run time.
 * npm packages stay external: they are loaded from node_modules as installed (and patched).
 *
 *   tsx scripts/build-relay.ts [outdir]     (npm run build:relay; part of npm run build)
 */
import { chmod, rm } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url))
export const RELAY_BIN = 'webkad-relay.js'

/** Builds the relay into `outdir` and returns the path of its executable entry. */
export async function buildRelay (outdir = join(REPO_ROOT, 'dist-relay')): Promise<string> {
  await rm(outdir, { recursive: true, force: true })
  await build({
    entryPoints: { 'webkad-relay': join(REPO_ROOT, 'relay/bin.ts') },
    outdir,
    bundle: true,
    // The relay proper becomes a chunk that bin.ts imports after the polyfills have run.
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20.19',
    packages: 'external',
    sourcemap: true,
    logLevel: 'warning'
  })
  const bin = join(outdir, RELAY_BIN)
  await chmod(bin, 0o755)
  return bin
}

if (process.argv[1] != null && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const bin = await buildRelay(process.argv[2] == null ? undefined : resolve(process.argv[2]))
  console.log(`relay compiled: ${bin}`)
}
