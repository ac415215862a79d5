import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    environment: 'node',
    include: ['src/**/*.test.ts', 'relay/**/*.test.ts', 'test/**/*.test.ts', 'test/**/*.test.tsx'],
    exclude: ['e2e/**', '**/node_modules/**', 'dist/**'],
    // Node 20 lacks Promise.withResolvers, which libp2p needs (see relay/node20-polyfills.ts).
    setupFiles: ['./test/setup.ts'],
    // @libp2p/websockets dials with the global WebSocket, which Node 20 only has behind this
    // flag (Node >= 22 has it by default). The integration tests dial the relay from Node.
    execArgv: typeof globalThis.WebSocket === 'undefined' ? ['--experimental-websocket'] : [],
    testTimeout: 30_000
  }
})
