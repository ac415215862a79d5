import { defineConfig } from 'vite'
import react from '@vitejs/plugin-react'
import type { Plugin } from 'vite'

const relayHttpPort = process.env.WEBKAD_HTTP_PORT ?? 9091

/**
 * Fails the build if kad-dht's generated prefix table gets into the bundle (~100 kB minified,
 * ~44 kB gzip). patches/@libp2p+kad-dht+*.patch makes routing-table refresh compute its keys
 * instead; the table comes back when the patch is not applied (`npm install --ignore-scripts`
 * skips patch-package) or no longer applies after an upgrade.
 */
function noKadPrefixTable (): Plugin {
  return {
    name: 'webkad:no-kad-prefix-table',
    apply: 'build',
    load (id) {
      if (/[\\/]@libp2p[\\/]kad-dht[\\/].*generated-prefix-list/.test(id)) {
        this.error(`${id} is in the bundle: the @libp2p/kad-dht patch is not applied (run \`npx patch-package\`)`)
      }
    }
  }
}

export default defineConfig({
  plugins: [react(), noKadPrefixTable()],
  build: {
    outDir: 'dist',
    // Every browser with WebRTC and the APIs libp2p uses runs ES2022 (esnext is no smaller).
    target: 'es2022',
    // One chunk on purpose: the page needs all of it to start (the node starts before the UI
    // renders), and splitting only adds bytes. `npm run bench` measures it against the gzip goal.
    chunkSizeWarningLimit: 1000,
    // No modulepreload polyfill: with one chunk there is nothing to preload (~0.3 kB gzip).
    modulePreload: { polyfill: false },
    rolldownOptions: {
      // Inline imported constants (protocol names, codes, enums) at their uses (~0.5 kB gzip).
      optimization: { inlineConst: true }
    }
  },
  server: {
    host: '127.0.0.1',
    port: 5173,
    proxy: {
      '/bootstrap': `http://127.0.0.1:${relayHttpPort}`
    }
  }
})
