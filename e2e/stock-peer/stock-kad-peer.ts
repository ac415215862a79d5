/**
 * A stock js-libp2p Node peer for the map e2e: libraries only, none of webkad's code (no import
 * from src/ or relay/; on Node 20 it is started with the shared runtime polyfills,
 * `--import ./relay/node20-polyfills.ts`, as the bench and soak are). It speaks kad-dht on
 * webkad's protocol ID in server mode, listens on a loopback WebSocket, dials the relay given as
 * argv[2] and prints one JSON line `{ "peerId", "multiaddrs" }` once it is listening. It stops on SIGTERM or when stdin closes.
 */

import { identify } from '@libp2p/identify'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { noise } from '@libp2p/noise'
import { ping } from '@libp2p/ping'
import { webSockets } from '@libp2p/websockets'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'

const relayAddress = process.argv[2]
if (relayAddress == null) throw new Error('usage: stock-kad-peer.ts <relay multiaddr>')

const node = await createLibp2p({
  addresses: { listen: ['/ip4/127.0.0.1/tcp/0/ws'] },
  transports: [webSockets()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services: {
    identify: identify(),
    ping: ping(),
    // The protocol ID is the only thing that makes it a webkad peer; server mode and the
    // passthrough mapper because every address on this machine is a loopback one.
    dht: kadDHT({ protocol: '/webkad/kad/1.0.0', clientMode: false, peerInfoMapper: passthroughMapper })
  }
})
await node.dial(multiaddr(relayAddress))
process.stdout.write(`${JSON.stringify({ peerId: node.peerId.toString(), multiaddrs: node.getMultiaddrs().map(String) })}\n`)

const stopNode = (): void => { void Promise.resolve(node.stop()).finally(() => process.exit(0)) }
process.on('SIGTERM', stopNode)
process.stdin.on('end', stopNode)
process.stdin.resume()
