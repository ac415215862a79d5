import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { fetchBootstrapAddrs, readAppConfig, startApp } from './p2p/app-core.ts'
import { App } from './ui/app.tsx'
import './ui/app.css'

async function boot (): Promise<void> {
  const root = document.getElementById('root')
  if (root == null) return
  const [session, bootstrapAddrs] = await Promise.all([
    startApp(readAppConfig(window.location.search)),
    fetchBootstrapAddrs(window.location.search)
  ])
  createRoot(root).render(
    <StrictMode>
      <App session={session} initialBootnodes={bootstrapAddrs.join('\n')} />
    </StrictMode>
  )
}

boot().catch((err: unknown) => {
  const root = document.getElementById('root')
  if (root != null) root.textContent = `webkad could not start: ${err instanceof Error ? err.message : String(err)}`
})
