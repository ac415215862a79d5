import type { Stream } from '@libp2p/interface'

/**
 * The stream's status once it is no longer open ('closed', 'reset', 'aborted'), awaited on its
 * 'close' event; 'open' if it is still open after `timeoutMs`, so an expectation of 'reset'
 * fails saying it stayed open.
 */
export async function streamEnd (stream: Stream, timeoutMs = 5000): Promise<string> {
  if (stream.status !== 'open') return stream.status
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs)
    stream.addEventListener('close', () => { clearTimeout(timer); resolve() }, { once: true })
  })
  return stream.status
}
