import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { test, expect } from '../fixtures/test.ts'
import { freePort } from '../../test/harness/relay-process.ts'

/**
 * Bad input fails with a named error shown where the user acted, and leaves the tab offline.
 * Each bootnode case gets a fresh tab, so the alert checked is the one that case produced.
 * No page error may escape in any of this (checked by the openTab fixture).
 */
test.describe('bad bootnode input', () => {
  const cases = [
    { name: 'not a multiaddr', text: 'definitely not a multiaddr', error: 'InvalidMultiaddrError' },
    { name: 'a multiaddr without /p2p/<peer ID>', text: '/ip4/127.0.0.1/tcp/9090/ws', error: 'InvalidMultiaddrError' },
    { name: 'an empty field', text: '', error: 'InvalidMultiaddrError' },
    { name: 'a non-WebSocket multiaddr', text: '/ip4/127.0.0.1/tcp/9090/p2p/12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf', error: 'InvalidMultiaddrError' }
  ]
  for (const { name, text, error } of cases) {
    test(`${name}: ${error}, status stays offline`, async ({ openTab }) => {
      const tab = await openTab()
      await tab.submitConnect(text)
      await tab.expectError(error)
      await tab.expectStatus('offline')
      await expect(tab.connectionRows).toHaveCount(0)
    })
  }

  test('a port nothing listens on: BootnodeUnreachableError, back to offline', async ({ relay, openTab }) => {
    const tab = await openTab()
    const port = await freePort()
    await tab.submitConnect(`/ip4/127.0.0.1/tcp/${port}/ws/p2p/${relay.peerId}`)
    await tab.expectError('BootnodeUnreachableError', 15_000)
    await tab.expectStatus('offline')
    await expect(tab.connectionRows).toHaveCount(0)

    // The same tab still connects once given the right address.
    await tab.connect(relay.multiaddr)
  })
})

test('bad peer IDs in Find peer: NotConnectedError, InvalidPeerIdError, PeerNotFoundError', async ({ openTab }) => {
  const tab = await openTab()
  await tab.submitFindPeer('12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf')
  await tab.expectError('NotConnectedError')

  await tab.connect()

  await tab.submitFindPeer('not-a-peer-id')
  await tab.expectError('InvalidPeerIdError')
  await tab.expectStatus('online')

  const absent = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  await tab.submitFindPeer(absent)
  await tab.expectError('PeerNotFoundError', 35_000)
  await expect(tab.findPeerResult).toHaveCount(0)
  await tab.expectStatus('online')
})
