import type { OperationError } from '../hooks/use-operation.ts'

/** A plain-words headline for the core's DHT errors; the core's message follows it. */
export function dhtErrorHeadline (error: OperationError): string | undefined {
  switch (error.name) {
    case 'InvalidRecordKeyError': return 'Key not accepted'
    case 'InvalidRecordError': return error.reason === 'oversized' ? 'Value too large' : 'Record not accepted'
    case 'RecordNotFoundError': return error.reason === 'no-peers' ? 'No peers to ask' : 'No record under this key'
    case 'NoPeersError': return 'No peers to ask'
    case 'OperationTimeoutError': return 'Timed out'
    case 'OperationAbortedError': return 'Cancelled'
    case 'NotConnectedError': return 'Not connected'
    default: return undefined
  }
}
