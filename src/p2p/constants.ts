/** webkad's own DHT protocol: never the public IPFS DHT (/ipfs/kad/1.0.0). */
export const DHT_PROTOCOL = '/webkad/kad/1.0.0'

/** The key namespace of webkad records: keys look like `/webkad/<name>`. */
export const RECORD_NAMESPACE = 'webkad'

/** Default timeout applied to core operations that are not given their own signal. */
export const DEFAULT_OPERATION_TIMEOUT_MS = 30_000

/** How many times a tab-to-tab WebRTC dial is attempted before giving up. */
export const WEBRTC_DIAL_ATTEMPTS = 3

/** Default relay ports: WebSockets for libp2p, HTTP for /bootstrap and the built app. */
export const DEFAULT_RELAY_WS_PORT = 9090
export const DEFAULT_RELAY_HTTP_PORT = 9091
