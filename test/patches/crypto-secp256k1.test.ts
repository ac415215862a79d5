import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { describe, expect, it } from 'vitest'

/**
 * patches/@libp2p+crypto+5.1.23.patch: in the browser build, secp256k1 key code is an Ed25519-only
 * stub (vite.config.ts fails the build if @noble/curves/secp256k1 gets back into the bundle).
 * Node (the relay, these tests) keeps the real implementation.
 */
// The package's exports hide package.json: find it from its main entry (dist/src/index.js).
const packageDir = join(dirname(createRequire(import.meta.url).resolve('@libp2p/crypto')), '..', '..')

describe('@libp2p/crypto patch: no secp256k1 in the browser build', () => {
  it('maps the secp256k1 key code to the stub for browsers', async () => {
    const manifest = JSON.parse(await readFile(join(packageDir, 'package.json'), 'utf8')) as { browser: Record<string, string> }
    expect(manifest.browser['./dist/src/keys/secp256k1/utils.js']).toBe('./dist/src/keys/secp256k1/utils.webkad-browser.js')
  })

  it('the stub refuses secp256k1 keys with UnsupportedKeyTypeError, and exports what the real module does', async () => {
    const stub = await import(join(packageDir, 'dist/src/keys/secp256k1/utils.webkad-browser.js')) as Record<string, unknown>
    const real = await import(join(packageDir, 'dist/src/keys/secp256k1/utils.js')) as Record<string, unknown>
    expect(Object.keys(stub).sort()).toEqual(Object.keys(real).sort())
    expect(stub.privateKeyLength).toBe(real.privateKeyLength)
    const unmarshal = stub.unmarshalSecp256k1PublicKey as (bytes: Uint8Array) => unknown
    expect(() => unmarshal(new Uint8Array(33))).toThrow(expect.objectContaining({ name: 'UnsupportedKeyTypeError' }))
    await expect((stub.generateSecp256k1KeyPair as () => Promise<unknown>)()).rejects.toMatchObject({ name: 'UnsupportedKeyTypeError' })
  })

  it('leaves Node its secp256k1 keys', async () => {
    const key = await generateKeyPair('secp256k1')
    expect(key.type).toBe('secp256k1')
  })
})
