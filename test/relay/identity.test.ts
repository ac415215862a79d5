import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { loadOrCreateRelayKey, prepareDataDir } from '../../relay/identity.ts'
import { tempDirs } from './helpers.ts'

const dirs = tempDirs()
afterEach(async () => { await dirs.cleanup() })

async function rejection (promise: Promise<unknown>): Promise<Error> {
  try {
    await promise
  } catch (err) {
    return err as Error
  }
  throw new Error('expected the promise to reject')
}

describe('prepareDataDir', () => {
  it('creates missing directories', async () => {
    const dir = join(await dirs.make(), 'a', 'b')
    await prepareDataDir(dir)
    await writeFile(join(dir, 'probe'), 'ok')
    expect(await readFile(join(dir, 'probe'), 'utf8')).toBe('ok')
  })

  it('refuses a path under a regular file with a one-line RelayConfigError', async () => {
    const file = join(await dirs.make(), 'not-a-dir')
    await writeFile(file, 'x')
    const err = await rejection(prepareDataDir(join(file, 'data')))
    expect(err.name).toBe('RelayConfigError')
    expect(err.message).not.toBe('')
    expect(err.message).not.toContain('\n')
  })
})

describe('loadOrCreateRelayKey', () => {
  it('creates a key on first use and loads the same key afterwards', async () => {
    const dir = await dirs.make()
    const created = await loadOrCreateRelayKey(dir)
    expect(created.type).toBe('Ed25519')
    const loaded = await loadOrCreateRelayKey(dir)
    expect(loaded.equals(created)).toBe(true)
  })

  it('makes a different key in another directory', async () => {
    const a = await loadOrCreateRelayKey(await dirs.make())
    const b = await loadOrCreateRelayKey(await dirs.make())
    expect(a.equals(b)).toBe(false)
  })

  it('refuses a corrupt key file instead of silently replacing the identity', async () => {
    const dir = await dirs.make()
    await writeFile(join(dir, 'relay.key'), 'definitely not a protobuf key')
    const err = await rejection(loadOrCreateRelayKey(dir))
    expect(err.name).toBe('RelayConfigError')
    expect(await readFile(join(dir, 'relay.key'), 'utf8')).toBe('definitely not a protobuf key')
  })
})
