import { MemoryDatastore } from 'datastore-core'
import { startMemoryNode } from '../../../helpers/nodes.ts'
import type { ChatServiceInit } from '../../../../src/p2p/services/chat/index.ts'
import type { WebkadNode } from '../../../../src/p2p/node.ts'
import type { PrivateKey } from '@libp2p/interface'

/** A chat test node: a whole webkad node (DHT included), so the chat runs as it ships. */
export type ChatNode = WebkadNode

/**
 * createWebkadNode on the in-memory transport, with `init`'s chat settings and the chat history
 * in `datastore` (a fresh MemoryDatastore by default).
 */
export async function startChatNode (init: ChatServiceInit & { privateKey?: PrivateKey, datastore?: MemoryDatastore } = {}): Promise<ChatNode> {
  const { privateKey, datastore, ...chat } = init
  return await startMemoryNode({
    name: 'chat',
    ...(privateKey != null ? { privateKey } : {}),
    chatDatastore: datastore ?? new MemoryDatastore(),
    chat
  })
}
