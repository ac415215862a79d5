import { afterEach, describe, expect, it } from 'vitest'
import { startMemoryNode } from '../helpers/nodes.ts'
import { settled } from '../helpers/settled.ts'
import type { WebkadNode } from '../../src/p2p/node.ts'
import type { Stream } from '@libp2p/interface'

/**
 * webkad's patch of @libp2p/utils (patches/@libp2p+utils+*.patch), on webkad nodes over the
 * in-memory transport (noise, yamux): these fail against the unpatched package.
 */

const PROTOCOL = '/webkad-test/back-pressure/1.0.0'
const nodes: WebkadNode[] = []

afterEach(async () => {
  await Promise.all(nodes.splice(0).map(async node => { await node.stop() }))
})

async function startNode (): Promise<WebkadNode> {
  const node = await startMemoryNode({ name: 'patch-test' })
  nodes.push(node)
  return node
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
      // Unpatched, the second round's onDrain() is the first round's promise, settled already:
      // it resolves within a microtask. Patched, nothing can drain while the receiver reads nothing.
      expect(await settled(drained, { turns: 20 }), `round ${round}: onDrain() while the receiver reads nothing`).toEqual({ status: 'pending' })
      remote?.resume()
      await drained
      remote?.pause()
    }
    stream.abort(new Error('done'))
  })
})
