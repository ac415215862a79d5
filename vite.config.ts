import { defineConfig } from 'vite'
import react from '@vitejs/plugin-react'
import type { Plugin } from 'vite'

const relayHttpPort = process.env.WEBKAD_HTTP_PORT ?? 9091

/**
 * Fails the build if code a patch keeps out of the bundle gets back in: the patch is not applied
 * (`npm install --ignore-scripts` skips patch-package) or no longer applies after an upgrade.
 * - kad-dht's generated prefix table (~44 kB gzip): patches/@libp2p+kad-dht+*.patch makes
 *   routing-table refresh compute its keys instead.
 * - secp256k1 (@noble/curves, ~7 kB gzip): patches/@libp2p+crypto+*.patch maps its key code to
 *   an Ed25519-only stub in the browser build.
 */
function keptOutOfTheBundle (): Plugin {
  const kept = [
    { pattern: /[\\/]@libp2p[\\/]kad-dht[\\/].*generated-prefix-list/, patch: '@libp2p/kad-dht' },
    { pattern: /[\\/]@noble[\\/]curves[\\/]secp256k1/, patch: '@libp2p/crypto' }
  ]
  return {
    name: 'webkad:kept-out-of-the-bundle',
    apply: 'build',
    // Checked on the output, not on load: a module can be loaded and then tree-shaken away.
    generateBundle (_options, bundle) {
      for (const output of Object.values(bundle)) {
        if (output.type !== 'chunk') continue
        for (const [id, module] of Object.entries(output.modules)) {
          const found = kept.find(entry => entry.pattern.test(id))
          if (found != null && module.renderedLength > 0) this.error(`${id} is in the bundle: the ${found.patch} patch is not applied (run \`npx patch-package\`)`)
        }
      }
    }
  }
}

export default defineConfig({
  plugins: [react(), keptOutOfTheBundle()],
  build: {
    outDir: 'dist',
    // Every browser with WebRTC and the APIs libp2p uses runs ES2022 (esnext is no smaller).
    target: 'es2022',
    // One initial chunk on purpose: the page needs all of it to start (the node starts before the
    // UI renders), and splitting only adds bytes. `npm run bench` measures it against the gzip goal.
    chunkSizeWarningLimit: 1000,
    // No modulepreload polyfill: with one chunk there is nothing to preload (~0.3 kB gzip).
    modulePreload: { polyfill: false },
    rolldownOptions: {
      // Inline imported constants (protocol names, codes, enums) at their uses (~0.5 kB gzip).
      optimization: { inlineConst: true },
      output: {
        codeSplitting: {
          // Every module the entry imports statically goes in the entry's chunk. Left to itself,
          // rolldown cuts the modules the entry shares with lazy panels into 11 small chunks that
          // gzip apart: 4.2 kB gzip more for the same code (253.3 kB against 249.1 kB in the page bench).
          groups: [{ name: 'index', tags: ['$initial'] }]
        }
      }
    }
  },
  // The block worker (src/p2p/files/block-worker.ts) is an ES module worker: it shares chunks' code.
  worker: { format: 'es' },
  server: {
    host: '127.0.0.1',
    port: 5173,
    proxy: {
      '/bootstrap': `http://127.0.0.1:${relayHttpPort}`
    }
  }
})
