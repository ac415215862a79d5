import type { IdentifyPush } from '@libp2p/identify'

/**
 * Sends this node's current addresses and protocols to every connected peer (identify-push) and
 * resolves once each push stream is written and closed.
 *
 * `IdentifyPush.push()` only schedules a debounced send and resolves before anything is sent. A
 * tab that went Online after it could still be missing from the relay's routing table (the relay
 * adds a peer once it knows its protocols, from its own identify of the tab, which can finish after
 * the reservation, or from this push), and another tab's first FindPeer failed with "no peer that
 * was asked knows its addresses" (seen once in CI, repeated-dial.spec.ts). The sending method
 * is private in the typings; test/p2p/network/announce-addresses.test.ts fails if an upgrade
 * renames it, rather than letting this fall back to the debounced push unnoticed.
 */
export async function announceAddresses (identifyPush: IdentifyPush): Promise<void> {
  const send = (identifyPush as unknown as { sendPushMessage?: () => Promise<void> }).sendPushMessage
  if (typeof send === 'function') await send.call(identifyPush)
  else await identifyPush.push()
}

/** Whether announceAddresses can wait for the push (the installed identify still has the method). */
export function canAwaitIdentifyPush (identifyPush: IdentifyPush): boolean {
  return typeof (identifyPush as unknown as { sendPushMessage?: unknown }).sendPushMessage === 'function'
}
