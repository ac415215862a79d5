import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    environment: 'node',
    include: ['src/**/*.test.ts', 'relay/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['e2e/**', '**/node_modules/**', 'dist/**'],
    testTimeout: 30_000
  }
})
