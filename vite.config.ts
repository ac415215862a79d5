import { defineConfig } from 'vite'
import react from '@vitejs/plugin-react'

const relayHttpPort = process.env.WEBKAD_HTTP_PORT ?? 9091

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: 'dist',
    target: 'es2022'
  },
  server: {
    host: '127.0.0.1',
    port: 5173,
    proxy: {
      '/bootstrap': `http://127.0.0.1:${relayHttpPort}`
    }
  }
})
