import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { DHT_PROTOCOL, MAX_RECORD_VALUE_BYTES, RECORD_NAMESPACE } from '../constants.ts'
import { InvalidRecordError } from '../errors.ts'
import type { KadDHT, KadDHTInit, SelectFn, ValidateFn } from '@libp2p/kad-dht'
import type { KadDHTComponents } from '@libp2p/kad-dht'

/**
 * Validator for `/webkad/...` keys. Without a validator for a namespace kad-dht resets PUT
 * streams and discards every GET record, so one must exist from day one.
 */
export const validateWebkadRecord: ValidateFn = (_key, value) => {
  if (value.byteLength === 0) throw new InvalidRecordError('record value is empty')
  if (value.byteLength > MAX_RECORD_VALUE_BYTES) {
    throw new InvalidRecordError(`record value is ${value.byteLength} bytes, the limit is ${MAX_RECORD_VALUE_BYTES}`)
  }
}

/** Until records carry sequence numbers (issue #3) the first valid record wins. */
export const selectWebkadRecord: SelectFn = () => 0

/**
 * The DHT configuration shared by the relay and every tab, so all nodes speak the same
 * protocol with the same validators.
 */
export function webkadDHT (init: Partial<KadDHTInit> = {}): (components: KadDHTComponents) => KadDHT {
  return kadDHT({
    protocol: DHT_PROTOCOL,
    // Tabs only have relayed or private addresses; left unset kad-dht keeps them clients forever.
    clientMode: false,
    // The default mapper strips loopback/private addresses, so local tabs would never enter tables.
    peerInfoMapper: passthroughMapper,
    validators: { [RECORD_NAMESPACE]: validateWebkadRecord },
    selectors: { [RECORD_NAMESPACE]: selectWebkadRecord },
    ...init
  })
}
