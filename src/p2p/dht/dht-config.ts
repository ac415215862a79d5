import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { DHT_PROTOCOL, RECORD_NAMESPACE } from '../constants.ts'
import { selectRecord, validateRecord } from './records.ts'
import type { KadDHT, KadDHTInit, SelectFn, ValidateFn } from '@libp2p/kad-dht'
import type { KadDHTComponents } from '@libp2p/kad-dht'

/**
 * Validator for `/webkad/...` keys: signed envelopes only (see records.ts). Without a validator
 * for a namespace kad-dht resets PUT streams and discards every GET record.
 */
export const validateWebkadRecord: ValidateFn = async (key, value) => {
  await validateRecord(key, value)
}

export const selectWebkadRecord: SelectFn = selectRecord

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
    // kad-dht holds every query back until its first self-query has run (it started 1 s after
    // start and dials every close tab on the way: a tab's first Find peer took 0.8-2.2 s). It now
    // starts at once, to fill the table, and a tab releases the hold once the relay is in its
    // table (live-node.ts). Not allowQueryWithZeroPeers: libp2p's random walk (the circuit
    // transport's relay search) then spins on empty lookups and starves the event loop.
    initialQuerySelfInterval: 0,
    validators: { [RECORD_NAMESPACE]: validateWebkadRecord },
    selectors: { [RECORD_NAMESPACE]: selectWebkadRecord },
    ...init
  })
}
