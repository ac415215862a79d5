import 'fake-indexeddb/auto'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { IDBBlockstore } from 'blockstore-idb'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { openBrowserFileStorage } from '../../../src/p2p/files/browser-storage.ts'
import { readBlock } from '../../../src/p2p/files/blocks.ts'

async function freshPeer (): Promise<ReturnType<typeof peerIdFromPrivateKey>> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

describe('openBrowserFileStorage without a block worker', () => {
  afterEach(() => { vi.unstubAllGlobals() })

  it('where Worker does not exist, blocks are kept on the main thread in the same database', async () => {
    vi.stubGlobal('Worker', undefined)
    const storage = await openBrowserFileStorage(await freshPeer())
    expect(storage.blockstore).toBeInstanceOf(IDBBlockstore)
    const bytes = new Uint8Array([1, 2, 3])
    const cid = CID.createV1(raw.code, await sha256.digest(bytes))
    await storage.blockstore.put(cid, bytes)
    expect(await readBlock(storage.blockstore, cid)).toEqual(bytes)
  })

  it('a worker that fails to start (an error event) leaves the tab on the main thread, and the worker is terminated', async () => {
    const terminated: boolean[] = []
    class FailingWorker extends EventTarget {
      constructor () {
        super()
        setTimeout(() => { this.dispatchEvent(Object.assign(new Event('error'), { message: 'script failed to load' })) }, 10)
      }

      postMessage (): void {}
      terminate (): void { terminated.push(true) }
    }
    vi.stubGlobal('Worker', FailingWorker)
    const storage = await openBrowserFileStorage(await freshPeer())
    expect(storage.blockstore).toBeInstanceOf(IDBBlockstore)
    expect(terminated).toEqual([true])
  })
})
