import { identify } from '@libp2p/identify'
import { memory } from '@libp2p/memory'
import { noise } from '@libp2p/noise'
import { ping } from '@libp2p/ping'
import { yamux } from '@libp2p/yamux'
import { MemoryDatastore } from 'datastore-core'
import { createLibp2p } from 'libp2p'
import { webkadChat } from '../../../../src/p2p/services/chat/index.ts'
import type { ChatService, ChatServiceInit } from '../../../../src/p2p/services/chat/index.ts'
import type { Identify } from '@libp2p/identify'
import type { Libp2p, PrivateKey } from '@libp2p/interface'
import type { Ping } from '@libp2p/ping'

export type ChatNode = Libp2p<{ identify: Identify, ping: Ping, chat: ChatService }>

let counter = 0

/** A real libp2p node with the chat service on the in-memory transport. */
export async function startChatNode (init: ChatServiceInit & { privateKey?: PrivateKey, datastore?: MemoryDatastore } = {}): Promise<ChatNode> {
  return await createLibp2p({
    ...(init.privateKey != null ? { privateKey: init.privateKey } : {}),
    addresses: { listen: [`/memory/webkad-chat-${process.pid}-${++counter}`] },
    transports: [memory()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionMonitor: { enabled: false },
    services: {
      identify: identify(),
      ping: ping(),
      chat: webkadChat({ datastore: init.datastore ?? new MemoryDatastore(), ...init })
    }
  })
}

/** Resolves when `check` passes, polling the store (the service publishes snapshots, not promises). */
export async function waitFor (check: () => boolean, timeoutMs = 20_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}
