import { identify } from '@libp2p/identify'
import { memory } from '@libp2p/memory'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { createLibp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import type { Libp2p, Stream } from '@libp2p/interface'

/**
 * webkad's patch of @libp2p/utils (patches/@libp2p+utils+*.patch), on real libp2p nodes over
 * the in-memory transport with yamux: these fail against the unpatched package.
 */

const PROTOCOL = '/webkad-test/back-pressure/1.0.0'
const nodes: Libp2p[] = []
let counter = 0

afterEach(async () => {
  await Promise.all(nodes.splice(0).map(async node => { await node.stop() }))
})

async function startNode (): Promise<Libp2p> {
  const node = await createLibp2p({
    addresses: { listen: [`/memory/patch-test-${process.pid}-${++counter}`] },
    transports: [memory()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionMonitor: { enabled: false },
    services: { identify: identify() }
  })
  nodes.push(node)
  return node
}

/** Resolves to whether `promise` settled within a few event-loop turns. */
async function settlesSoon (promise: Promise<unknown>): Promise<boolean> {
  let settled = false
  promise.then(() => { settled = true }, () => { settled = true })
  await new Promise(resolve => setTimeout(resolve, 50))
  return settled
}

/** Sends until the stream reports back-pressure (send() returns false). */
function fill (stream: Stream): void {
  const chunk = new Uint8Array(64 * 1024)
  for (let sent = 0; sent < 64 * 1024 * 1024; sent += chunk.length) {
    if (!stream.send(chunk)) return
  }
  throw new Error('the stream never reported back-pressure')
}

describe('@libp2p/utils stream back-pressure (patched)', () => {
  it('onDrain() waits for every drain, not only the first one', async () => {
    const sender = await startNode()
    const receiver = await startNode()
    let remote: Stream | undefined
    await receiver.handle(PROTOCOL, (stream) => {
      // Read nothing until told to: the yamux window fills and the sender must wait.
      stream.pause()
      remote = stream
    })
    const stream = await sender.dialProtocol(receiver.getMultiaddrs()[0]!, PROTOCOL)
    for (let round = 1; round <= 2; round++) {
      fill(stream)
      const drained = stream.onDrain({ signal: AbortSignal.timeout(10_000) })
      expect(await settlesSoon(drained), `round ${round}: onDrain() resolved while the receiver reads nothing`).toBe(false)
      remote?.resume()
      await drained
      remote?.pause()
    }
    stream.abort(new Error('done'))
  })
})
