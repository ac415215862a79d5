#!/usr/bin/env node
/**
 * The `webkad-relay` command (package.json `bin`, compiled to dist-relay/ by scripts/build-relay.ts).
 * The Node 20 polyfills must run before any libp2p module is evaluated: static imports are
 * hoisted, so the relay itself is imported dynamically after them (its own chunk in the build).
 */
import './node20-polyfills.ts'

await import('./main.ts')
