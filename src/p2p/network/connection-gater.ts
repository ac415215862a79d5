import { isPrivate } from '@libp2p/utils'
import { WebSockets } from '@multiformats/multiaddr-matcher'
import type { ConnectionGater } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/**
 * The browser's default gater refuses loopback/private addresses and ws://, which is every
 * address of a local webkad network. Relax that only when the user chose a local bootnode:
 * a tab bootstrapped from a public relay keeps the browser defaults.
 */
export function webkadConnectionGater (bootnodes: Multiaddr[]): ConnectionGater {
  const localNetwork = bootnodes.some(address => isPrivate(address))
  return {
    denyDialMultiaddr: (address: Multiaddr) => {
      if (localNetwork) return false
      return WebSockets.matches(address) || isPrivate(address)
    }
  }
}
