import { afterEach, describe, expect, it } from 'vitest'
import { MemoryBlockstore } from 'blockstore-core'
import { MemoryDatastore } from 'datastore-core'
import { createStore } from '../../../src/p2p/stores/store.ts'
import { FileSharing, REPROVIDE_AFTER_MS, REPROVIDE_CHECK_MS, reprovideFilesTask } from '../../../src/p2p/files/file-sharing.ts'
import { randomBytes, startFilesNetwork, stopFilesNetwork } from './files-network.ts'
import type { FilesPeer } from './files-network.ts'
import type { FilesHost, ReprovideRound } from '../../../src/p2p/files/file-sharing.ts'
import type { TaskDefinition } from '../../../src/p2p/scheduler/scheduler.ts'

describe("the Scheduler's re-provide task", () => {
  let peers: FilesPeer[] = []
  afterEach(async () => { await stopFilesNetwork(peers); peers = [] })

  it('registers itself with the host, re-provides only due files and cancels the records of files removed while offline', async () => {
    peers = await startFilesNetwork(3)
    const [a, b] = peers
    if (a == null || b == null) throw new Error('network')
    const tasks: TaskDefinition[] = []
    // A tab whose node comes and goes: `node` is undefined while offline.
    const host: { -readonly [K in keyof FilesHost]: FilesHost[K] } = { peerId: a.node.peerId, node: a.node, state: createStore({ status: 'online' }), traceHandler: () => () => {}, addTask: (task) => { tasks.push(task) } }
    const sharing = new FileSharing(host, { blockstore: new MemoryBlockstore(), index: new MemoryDatastore() })
    await sharing.start()
    try {
      expect(tasks.map(task => task.id)).toEqual(['reprovide-files'])
      const kept = await sharing.share(new File([randomBytes(300_000, 5)], 'kept.bin'), { signal: AbortSignal.timeout(20_000) })
      const removed = await sharing.share(new File([randomBytes(200_000, 6)], 'removed.bin'), { signal: AbortSignal.timeout(20_000) })
      const providedAt = kept.entry.providedAt ?? 0
      expect(providedAt).toBeGreaterThan(0)

      // Nothing due yet: no announce, and the next time is 24 h after the last record.
      const early = await sharing.reprovideDue({ signal: AbortSignal.timeout(20_000) })
      expect(early).toMatchObject({ providing: 2, due: 0, reprovided: 0, stopped: 0 })
      expect(early.nextDueAt).toBe(Math.min(providedAt, removed.entry.providedAt ?? 0) + REPROVIDE_AFTER_MS)
      expect(sharing.files.getSnapshot().find(entry => entry.cid === kept.entry.cid)?.providedAt).toBe(providedAt)

      // Removed while offline: its own provider record cannot be cancelled then; the next round does it.
      host.node = undefined
      await sharing.remove(removed.entry.cid)
      await expect(sharing.reprovideDue({ signal: AbortSignal.timeout(5_000) })).rejects.toMatchObject({ name: 'NotConnectedError' })
      host.node = a.node

      const later = providedAt + REPROVIDE_AFTER_MS + 1
      const round = await sharing.reprovideDue({ signal: AbortSignal.timeout(20_000), now: later })
      expect(round).toMatchObject({ providing: 1, due: 1, reprovided: 1, failed: 0, stopped: 1 })
      const renewed = sharing.files.getSnapshot().find(entry => entry.cid === kept.entry.cid)?.providedAt ?? 0
      expect(renewed, 'a new provider record was written').toBeGreaterThan(providedAt)
      expect(round.nextDueAt).toBe(renewed + REPROVIDE_AFTER_MS)
      // The cancel is done once.
      expect(await sharing.reprovideDue({ signal: AbortSignal.timeout(20_000) })).toMatchObject({ providing: 1, due: 0, stopped: 0 })

      // The kept file is still found at A after the re-provide.
      const found = await b.files.findProviders(kept.entry.cid, { signal: AbortSignal.timeout(10_000) })
      expect(found.providers.map(p => p.peerId.toString())).toContain(a.node.peerId.toString())
    } finally {
      sharing.stop()
    }
  })

  it('its summary says what it did and when the next file falls due; failures retry within a minute', async () => {
    const now = Date.now()
    const round = (result: Partial<ReprovideRound>): Pick<FileSharing, 'reprovideDue'> => ({ reprovideDue: async () => ({ providing: 0, due: 0, reprovided: 0, failed: 0, stopped: 0, ...result }) })
    const signal = AbortSignal.timeout(1_000)
    const idle = await reprovideFilesTask(round({ providing: 2, nextDueAt: now + 3 * 3_600_000 + 5 * 60_000 })).run(signal)
    expect(idle.summary).toMatch(/^2 file\(s\) provided, none due; next due in 3 h [45] min$/)
    expect(idle.nextRunInMs).toBe(REPROVIDE_CHECK_MS)
    const soon = await reprovideFilesTask(round({ providing: 1, nextDueAt: now + 90_000 })).run(signal)
    expect(soon.nextRunInMs).toBeLessThanOrEqual(90_000)
    expect(soon.nextRunInMs).toBeGreaterThan(80_000)
    const failed = await reprovideFilesTask(round({ providing: 3, due: 2, reprovided: 1, failed: 1, stopped: 1 })).run(signal)
    expect(failed.summary).toBe('re-provided 1 of 2; 1 removed file(s) no longer provided')
    expect(failed.nextRunInMs).toBe(60_000)
    const definition = reprovideFilesTask(round({}))
    expect(definition).toMatchObject({ id: 'reprovide-files', title: 'Re-provide files', intervalMs: REPROVIDE_CHECK_MS })
  })
})
