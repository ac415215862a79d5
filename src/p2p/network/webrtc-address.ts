import { multiaddr } from '@multiformats/multiaddr'
import { Circuit, WebRTC } from '@multiformats/multiaddr-matcher'
import type { PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/**
 * A WebRTC address for `target` among its known addresses: one it announced, else one built from
 * its relayed address (`…/p2p-circuit` → `…/p2p-circuit/webrtc`), since a tab listening on
 * /webrtc accepts SDP signalling through any relay it holds a reservation on.
 */
export function webrtcAddressFor (target: PeerId, known: Multiaddr[]): Multiaddr | undefined {
  const announced = known.find(address => WebRTC.matches(address))
  if (announced != null) return withPeer(announced, target)
  const circuit = known.find(address => Circuit.matches(address))
  if (circuit == null) return undefined
  const base = withoutPeer(circuit, target)
  return multiaddr(`${base}/webrtc/p2p/${target.toString()}`)
}

function withoutPeer (address: Multiaddr, target: PeerId): string {
  return address.toString().replace(new RegExp(`/p2p/${target.toString()}$`), '')
}

function withPeer (address: Multiaddr, target: PeerId): Multiaddr {
  return multiaddr(`${withoutPeer(address, target)}/p2p/${target.toString()}`)
}
