/**
 * Named error classes of the webkad core. Callers match on `name`, never on the message text.
 */

/** The text given as a bootnode is not a usable multiaddr. */
export class InvalidMultiaddrError extends Error {
  override readonly name = 'InvalidMultiaddrError'
}

/** The text given as a peer ID does not parse as a libp2p peer ID. */
export class InvalidPeerIdError extends Error {
  override readonly name = 'InvalidPeerIdError'
}

/** The bootnode could not be reached or did not speak libp2p. */
export class BootnodeUnreachableError extends Error {
  override readonly name = 'BootnodeUnreachableError'
}

/** FindPeer finished without learning any address of the peer. */
export class PeerNotFoundError extends Error {
  override readonly name = 'PeerNotFoundError'
}

/** An operation that needs a running node was called before Connect. */
export class NotConnectedError extends Error {
  override readonly name = 'NotConnectedError'
}

/** A direct (WebRTC) connection to a peer could not be opened. */
export class DirectDialFailedError extends Error {
  override readonly name = 'DirectDialFailedError'
}

/** The peer asked for is this node itself. */
export class SelfPeerError extends Error {
  override readonly name = 'SelfPeerError'
}

/** An operation ran past its deadline. */
export class OperationTimeoutError extends Error {
  override readonly name = 'OperationTimeoutError'
}

/** An operation was cancelled by its caller. */
export class OperationAbortedError extends Error {
  override readonly name = 'OperationAbortedError'
}

/** A relay setting (flag or environment variable) has an unusable value. */
export class RelayConfigError extends Error {
  override readonly name = 'RelayConfigError'
}

export type InvalidRecordReason = 'malformed' | 'oversized' | 'unsigned' | 'bad-signature' | 'key-mismatch' | 'wrong-owner' | 'bad-key' | 'expired'

/** A DHT record was refused by webkad's validator; `reason` says which rule it broke. */
export class InvalidRecordError extends Error {
  override readonly name = 'InvalidRecordError'
  readonly reason: InvalidRecordReason
  constructor (message: string, reason: InvalidRecordReason = 'malformed') {
    super(message)
    this.reason = reason
  }
}

/** The relay was reached but did not grant a circuit reservation in time. */
export class ReservationFailedError extends Error {
  override readonly name = 'ReservationFailedError'
}

/** A record key is empty, too long, has control characters, or belongs to another peer. */
export class InvalidRecordKeyError extends Error {
  override readonly name = 'InvalidRecordKeyError'
}

/** A Get ended without any valid record: `reason` tells "nobody had one" from "nobody to ask". */
export class RecordNotFoundError extends Error {
  override readonly name = 'RecordNotFoundError'
  readonly reason: 'no-record' | 'no-peers'
  constructor (message: string, reason: 'no-record' | 'no-peers') {
    super(message)
    this.reason = reason
  }
}

/** A DHT operation needs other peers and the routing table is empty. */
export class NoPeersError extends Error {
  override readonly name = 'NoPeersError'
}

/** @libp2p/kad-dht no longer has the internals webkad reads (see dht/kad-internals.ts). */
export class KadInternalsChangedError extends Error {
  override readonly name = 'KadInternalsChangedError'
}

/** @libp2p/circuit-relay-v2 no longer has the internals the relay limits hook into (relay/relay-internals.ts). */
/** The relay's WebRTC-Direct listener cannot start: its UDP port cannot be bound, or its stored certificate is unreadable. */
export class WebRTCDirectListenError extends Error {
  override readonly name = 'WebRTCDirectListenError'
}

export class RelayInternalsChangedError extends Error {
  override readonly name = 'RelayInternalsChangedError'
}

/** A chat message is longer than the protocol allows; nothing was sent. */
export class MessageTooLongError extends Error {
  override readonly name = 'MessageTooLongError'
}

/** A chat message is empty or is not valid text (unpaired surrogates); nothing was sent. */
export class InvalidMessageTextError extends Error {
  override readonly name = 'InvalidMessageTextError'
}

/** A chat frame broke the protocol (malformed, oversized, unknown fields); its stream is reset. */
export class ChatProtocolError extends Error {
  override readonly name = 'ChatProtocolError'
  readonly reason: 'malformed' | 'oversized' | 'unknown-fields' | 'unexpected-frame'
  constructor (message: string, reason: ChatProtocolError['reason']) {
    super(message)
    this.reason = reason
  }
}

/** A peer sent more records to store than the per-peer limit allows, or this node holds its maximum. */
export class RecordStoreLimitError extends Error {
  override readonly name = 'RecordStoreLimitError'
  readonly reason: 'rate' | 'capacity'
  constructor (message: string, reason: RecordStoreLimitError['reason']) {
    super(message)
    this.reason = reason
  }
}

/** The tab's IndexedDB could not be opened or written (quota, a broken database); the tab goes on in memory. */
export class TabStorageError extends Error {
  override readonly name = 'TabStorageError'
}

/** A block peer broke /webkad/blocks/1.0.0 (oversized or malformed frame, wrong reply) or its stream failed; only that stream is reset. */
export class BlockProtocolError extends Error {
  override readonly name = 'BlockProtocolError'
  readonly reason: 'oversized-frame' | 'malformed-frame' | 'reply-mismatch' | 'unexpected-reply' | 'timeout' | 'stream-failed' | 'too-many-streams' | 'closed'
  constructor (message: string, reason: BlockProtocolError['reason']) {
    super(message)
    this.reason = reason
  }
}

/** The text given as a file's CID is not a CID (or not one webkad can fetch: sha2-256, dag-pb or raw). */
export class InvalidCidError extends Error {
  override readonly name = 'InvalidCidError'
}

/** A FIND_PROVIDERS lookup ended without any provider of the file. */
export class NoProvidersError extends Error {
  override readonly name = 'NoProvidersError'
}

/** A file transfer could not finish: every provider failed or lied, or lacks a block. Blocks already stored are kept. */
export class TransferFailedError extends Error {
  override readonly name = 'TransferFailedError'
}

/** The browser refused to store more (IndexedDB quota); the blocks stored so far are kept for a later resume. */
export class StorageQuotaError extends Error {
  override readonly name = 'StorageQuotaError'
}

/** A file is not in this tab (never imported or fetched, or removed). */
export class FileNotFoundError extends Error {
  override readonly name = 'FileNotFoundError'
}

/** A crawl file (exported crawl JSON) could not be read: not JSON, another format, or values out of bounds. */
export class InvalidCrawlFileError extends Error {
  override readonly name = 'InvalidCrawlFileError'
}

/** A peer's answer on the DHT protocol could not be used by the crawler (malformed, oversized, wrong type). */
export class CrawlProtocolError extends Error {
  override readonly name = 'CrawlProtocolError'
}
