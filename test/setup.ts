// Node 20 lacks Promise.withResolvers, which libp2p calls; the relay loads the same polyfill
// with `node --import`. Browsers and Node >= 22 have it natively (then this is a no-op).
import '../relay/node20-polyfills.ts'
