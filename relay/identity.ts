import { mkdir, readFile, writeFile, access, constants as fsConstants } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { RelayConfigError } from '../src/p2p/errors.ts'
import type { PrivateKey } from '@libp2p/interface'

const KEY_FILE = 'relay.key'

/** Makes sure the data directory exists and is writable; a one-line RelayConfigError otherwise. */
export async function prepareDataDir (dataDir: string): Promise<void> {
  try {
    await mkdir(dataDir, { recursive: true })
    await access(dataDir, fsConstants.R_OK | fsConstants.W_OK)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error'
    throw new RelayConfigError(`data directory "${dataDir}" is unusable (${code})`)
  }
}

/**
 * Loads the relay's Ed25519 key from the data directory, creating it on first start, so the
 * relay keeps its peer ID (and therefore its multiaddr) across restarts.
 */
export async function loadOrCreateRelayKey (dataDir: string): Promise<PrivateKey> {
  const path = join(dataDir, KEY_FILE)
  let bytes: Uint8Array | undefined
  try {
    bytes = await readFile(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new RelayConfigError(`cannot read relay key "${path}" (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
    }
  }
  if (bytes != null) {
    try {
      return privateKeyFromProtobuf(bytes)
    } catch {
      throw new RelayConfigError(`relay key "${path}" is corrupt: move it away to create a new identity`)
    }
  }
  const key = await generateKeyPair('Ed25519')
  await writeFile(path, privateKeyToProtobuf(key), { mode: 0o600 })
  return key
}
