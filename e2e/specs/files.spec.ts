import '../../relay/node20-polyfills.ts'
import { createHash, randomBytes } from 'node:crypto'
import { test, expect } from '../fixtures/test.ts'
import { FilesPanel } from '../pages/files-panel.ts'

/**
 * Files through the DHT between real tabs: A shares a file (provider record on the k closest),
 * B finds A by FIND_PROVIDERS and fetches it block by block over WebRTC, verified, and becomes a
 * provider; C fetches from A and B together; bytes compared by SHA-256 computed here.
 */

const FILE_BYTES = 20 * 1024 * 1024

function sha256 (bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

test('share a 20 MiB file, fetch it by link with progress, then from two providers at once', async ({ relay, openTab }) => {
  test.setTimeout(180_000)
  // A and B serve at most 3 MiB/s each, so a transfer lasts long enough to watch (and to see both share it).
  const capped = `${relay.appUrl}${relay.appUrl.includes('?') ? '&' : '?'}uploadKiBps=3072`
  const [a, b, c] = await Promise.all([openTab({ url: capped }), openTab({ url: capped }), openTab()])
  await Promise.all([a, b, c].map(async tab => await tab.connect()))
  const [filesA, filesB, filesC] = [a, b, c].map(tab => new FilesPanel(tab.page))
  if (filesA == null || filesB == null || filesC == null) throw new Error('tabs')
  const content = randomBytes(FILE_BYTES)
  const name = 'holiday-video.bin'

  const shared = await test.step('A shares the file: root CID, link, provider record stored on peers', async () => {
    const result = await filesA.share(name, content)
    expect(result.cid).toMatch(/^bafy/)
    expect(result.link).toContain(`#cid=${result.cid}`)
    expect(Number(await filesA.sharedResult.getByTestId('provide-result').getAttribute('data-accepted'))).toBeGreaterThan(0)
    await expect(filesA.fileRows.and(a.page.locator(`[data-cid="${result.cid}"]`))).toHaveAttribute('data-providing', 'true')
    // Its blocks were written by the block worker, not on the page's main thread.
    expect(a.page.workers().map(worker => worker.url()).some(url => url.includes('block-worker'))).toBe(true)
    return result
  })

  await test.step('B finds A as the provider, fetches by link with progress, and the bytes are identical', async () => {
    expect(await filesB.findProviders(shared.cid)).toEqual([await a.peerId()])
    await filesB.startFetch(shared.link)
    // Progress shows while it runs: some bytes, not all.
    await expect.poll(async () => await filesB.transferredBytes(shared.cid), { timeout: 30_000 }).toBeGreaterThan(0)
    expect(await filesB.transferredBytes(shared.cid)).toBeLessThan(FILE_BYTES)
    await filesB.waitForTransfer(shared.cid)
    const downloaded = await filesB.downloadHash(name)
    expect(downloaded.suggestedName).toBe(name)
    expect(downloaded.sha256).toBe(sha256(content))
  })

  await test.step('C fetches from A and B together: two providers, both contributed', async () => {
    await expect.poll(async () => (await filesC.findProviders(shared.cid)).sort(), { timeout: 20_000 }).toEqual([await a.peerId(), await b.peerId()].sort())
    await filesC.startFetch(shared.link)
    await filesC.waitForTransfer(shared.cid)
    const shares = await filesC.shares(shared.cid)
    expect([...shares.keys()].sort()).toEqual([await a.peerId(), await b.peerId()].sort())
    for (const [peer, share] of shares) expect(share.bytes, `bytes from ${peer}`).toBeGreaterThan(0)
    expect([...shares.values()].reduce((sum, share) => sum + share.bytes, 0)).toBe(FILE_BYTES)
    expect((await filesC.downloadHash(name)).sha256).toBe(sha256(content))
  })
})

/** A webkad node in this (Node) process that joins the relay over WebSockets and lies about every block it serves. */
async function startLyingProvider (relayMultiaddr: string, content: Uint8Array): Promise<{ peerId: string, stop(): Promise<void> }> {
  const { createWebkadNode } = await import('../../src/p2p/node.ts')
  const { kadInternals } = await import('../../src/p2p/dht/kad-internals.ts')
  const { importBlob } = await import('../../src/p2p/files/file-transfer.ts')
  const { readBlock } = await import('../../src/p2p/files/blocks.ts')
  const { MemoryBlockstore } = await import('blockstore-core')
  const { webSockets } = await import('@libp2p/websockets')
  const { multiaddr } = await import('@multiformats/multiaddr')
  const relay = multiaddr(relayMultiaddr)
  const node = await createWebkadNode({ webrtc: false, transports: [webSockets()], listen: ['/ip4/127.0.0.1/tcp/0/ws'], bootnodes: [relay] })
  const blockstore = new MemoryBlockstore()
  const imported = await importBlob(new Blob([content as Uint8Array<ArrayBuffer>]), blockstore, { signal: AbortSignal.timeout(30_000) })
  node.services.blocks.setBlockSource({
    get: async (cid) => {
      if (!await blockstore.has(cid)) return undefined
      const bytes = Uint8Array.from(await readBlock(blockstore, cid))
      bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0x01
      return bytes
    }
  })
  await node.dial(relay)
  await expect.poll(() => kadInternals(node.services.dht).routingTable.size, { timeout: 15_000 }).toBeGreaterThan(0)
  for await (const _event of node.services.dht.provide(imported.cid, { signal: AbortSignal.timeout(20_000) })) { /* drain */ }
  return { peerId: node.peerId.toString(), stop: async () => { await node.stop() } }
}

test('providers come and go: a reload resumes, a lying provider is caught, a closed provider is replaced by the others', async ({ relay, openTab }) => {
  test.setTimeout(240_000)
  const capped = `${relay.appUrl}${relay.appUrl.includes('?') ? '&' : '?'}uploadKiBps=2048`
  const [a, b, c, d] = await Promise.all([openTab({ url: capped }), openTab({ url: capped }), openTab(), openTab({ url: capped })])
  await Promise.all([a, b, c, d].map(async tab => await tab.connect()))
  const [filesA, filesB, filesC, filesD] = [a, b, c, d].map(tab => new FilesPanel(tab.page))
  if (filesA == null || filesB == null || filesC == null || filesD == null) throw new Error('tabs')
  const content = randomBytes(FILE_BYTES)
  const name = 'dataset.bin'
  const shared = await filesA.share(name, content)

  await test.step('B reloads mid-transfer and resumes from the blocks it stored', async () => {
    await filesB.startFetch(shared.link)
    await expect.poll(async () => await filesB.transferredBytes(shared.cid), { timeout: 30_000 }).toBeGreaterThan(4 * 1024 * 1024)
    const before = await filesB.transferredBytes(shared.cid)
    expect(before).toBeLessThan(FILE_BYTES)
    await b.reload()
    await b.expectStatus('online', 30_000)
    await filesB.waitForTransfer(shared.cid, 120_000)
    expect(Number(await filesB.transfer(shared.cid).getAttribute('data-resumed')), 'bytes resumed from the first attempt').toBeGreaterThanOrEqual(before - 2 * 1024 * 1024)
    expect((await filesB.downloadHash(name)).sha256).toBe(sha256(content))
  })

  await test.step('a lying provider (a Node peer) is caught and the file still arrives intact', async () => {
    const liar = await startLyingProvider(relay.multiaddr, content)
    try {
      await expect.poll(async () => await filesD.findProviders(shared.cid), { timeout: 20_000 }).toContain(liar.peerId)
      await filesD.startFetch(shared.link)
      await filesD.waitForTransfer(shared.cid, 120_000)
      const shares = await filesD.shares(shared.cid)
      expect(shares.get(liar.peerId)?.state, `the liar's share: ${JSON.stringify([...shares])}`).toBe('dropped')
      expect(shares.get(liar.peerId)?.bytes).toBe(0)
      expect((await filesD.downloadHash(name)).sha256).toBe(sha256(content))
    } finally {
      await liar.stop()
    }
  })
  await test.step('A closes during C\'s transfer from A and B: C finishes from B', async () => {
    await expect.poll(async () => (await filesC.findProviders(shared.cid)).length, { timeout: 20_000 }).toBeGreaterThanOrEqual(3)
    await filesC.startFetch(shared.link)
    const peerA = await a.peerId()
    await expect.poll(async () => (await filesC.shares(shared.cid)).get(peerA)?.bytes ?? 0, { timeout: 30_000 }).toBeGreaterThan(0)
    await a.page.close()
    await filesC.waitForTransfer(shared.cid, 120_000)
    const shares = await filesC.shares(shared.cid)
    expect(shares.get(peerA)?.state).toBe('gone')
    expect(shares.get(await b.peerId())?.bytes).toBeGreaterThan(0)
    expect((await filesC.downloadHash(name)).sha256).toBe(sha256(content))
  })

})
