/**
 * What the JS bundle is made of: builds the app once more with source maps into a temporary
 * directory, attributes every byte of the minified output to the source file its mapping
 * points to, and groups the bytes by npm package. Honest but approximate: gzip per group is
 * estimated (each group compressed alone, then scaled to the real total).
 */
import { spawnSync } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { REPO_ROOT } from '../../test/harness/app-build.ts'

export interface BundleGroup {
  name: string
  /** Minified bytes attributed to the group. */
  bytes: number
  /** Its share of the real gzip size (see the module comment). */
  gzipEstimate: number
  /** Its largest source files, with their minified kB. */
  examples: string[]
}

export interface BundleBreakdown {
  totalBytes: number
  gzipBytes: number
  unmappedBytes: number
  /** Packages (and webkad's own src/), largest first. */
  groups: BundleGroup[]
  /** Families of packages: libp2p, multiformats, crypto, react, … */
  families: BundleGroup[]
}

interface SourceMap {
  sources: string[]
  mappings: string
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
const BASE64_VALUE = new Map([...BASE64].map((char, index) => [char, index]))

/** Decodes one segment of a source map's `mappings` (base64 VLQ). */
function decodeSegment (segment: string): number[] {
  const values: number[] = []
  let value = 0
  let shift = 0
  for (const char of segment) {
    const digit = BASE64_VALUE.get(char)
    if (digit == null) throw new Error(`bad VLQ character ${char}`)
    value += (digit & 31) << shift
    if ((digit & 32) !== 0) {
      shift += 5
      continue
    }
    values.push((value & 1) === 1 ? -(value >>> 1) : value >>> 1)
    value = 0
    shift = 0
  }
  return values
}

/** Per source index: the generated text attributed to it (joined), and the bytes with no source. */
function attribute (code: string, map: SourceMap): { perSource: Map<number, string[]>, unmapped: number } {
  const perSource = new Map<number, string[]>()
  let unmapped = 0
  const lines = code.split('\n')
  let sourceIndex = 0
  map.mappings.split(';').forEach((lineMappings, lineNumber) => {
    const line = lines[lineNumber] ?? ''
    let column = 0
    const segments: Array<{ column: number, source?: number }> = []
    for (const text of lineMappings.split(',')) {
      if (text === '') continue
      const fields = decodeSegment(text)
      column += fields[0] ?? 0
      if (fields.length >= 4) {
        sourceIndex += fields[1] ?? 0
        segments.push({ column, source: sourceIndex })
      } else {
        segments.push({ column })
      }
    }
    const firstColumn = segments[0]?.column ?? line.length
    unmapped += Buffer.byteLength(line.slice(0, firstColumn)) + 1 // + the newline
    segments.forEach((segment, index) => {
      const end = segments[index + 1]?.column ?? line.length
      const text = line.slice(segment.column, end)
      if (segment.source == null) {
        unmapped += Buffer.byteLength(text)
        return
      }
      let list = perSource.get(segment.source)
      if (list == null) perSource.set(segment.source, list = [])
      list.push(text)
    })
  })
  return { perSource, unmapped }
}

/** `@scope/name` or `name` after the last node_modules/, else webkad's own folder. */
function packageOf (source: string): string {
  const index = source.lastIndexOf('node_modules/')
  if (index < 0) {
    const own = /(?:^|\/)(src\/[^/]+)/.exec(source)
    return own != null ? `webkad ${own[1] as string}` : 'other (bundler runtime, virtual modules)'
  }
  const parts = source.slice(index + 'node_modules/'.length).split('/')
  return parts[0]?.startsWith('@') === true ? `${parts[0]}/${parts[1] ?? ''}` : parts[0] ?? source
}

const FAMILIES: Array<{ name: string, test: (pkg: string) => boolean }> = [
  { name: 'libp2p (libp2p, @libp2p/*, @chainsafe/*)', test: pkg => pkg === 'libp2p' || pkg.startsWith('@libp2p/') || pkg.startsWith('@chainsafe/') },
  { name: 'multiformats (@multiformats/*, multiformats, uint8arrays, uint8arraylist)', test: pkg => pkg.startsWith('@multiformats/') || ['multiformats', 'uint8arrays', 'uint8arraylist'].includes(pkg) },
  { name: 'crypto (@noble/*)', test: pkg => pkg.startsWith('@noble/') },
  { name: 'React (react, react-dom, scheduler)', test: pkg => ['react', 'react-dom', 'scheduler'].includes(pkg) },
  { name: 'webkad src/', test: pkg => pkg.startsWith('webkad ') }
]

function grouped (entries: Array<{ name: string, source: string, text: string }>, gzipTotal: number): BundleGroup[] {
  const groups = new Map<string, { texts: string[], order: string[], sources: Map<string, number> }>()
  for (const entry of entries) {
    let group = groups.get(entry.name)
    if (group == null) groups.set(entry.name, group = { texts: [], order: [], sources: new Map() })
    group.texts.push(entry.text)
    group.order.push(entry.source)
    group.sources.set(entry.source, (group.sources.get(entry.source) ?? 0) + Buffer.byteLength(entry.text))
  }
  const measured = [...groups.entries()].map(([name, group]) => {
    const joined = group.texts.join('')
    const largest = [...group.sources.entries()].sort((a, b) => b[1] - a[1]).slice(0, 2)
      .map(([source, bytes]) => ({ source, bytes, gzipAlone: gzipSync(group.texts.filter((_, index) => group.order[index] === source).join(''), { level: 9 }).byteLength }))
    return { name, bytes: Buffer.byteLength(joined), gzipAlone: gzipSync(joined, { level: 9 }).byteLength, largest }
  })
  const gzipAloneTotal = measured.reduce((sum, group) => sum + group.gzipAlone, 0)
  const scale = gzipTotal / gzipAloneTotal
  return measured
    .map(group => ({
      name: group.name,
      bytes: group.bytes,
      gzipEstimate: group.gzipAlone * scale,
      examples: group.largest.map(file => `${file.source.replace(/^.*node_modules\//, '').replace(/^.*\/(src\/)/, '$1')} ${Math.round(file.bytes / 1000)} kB (≈${Math.round(file.gzipAlone * scale / 1000)} kB gzip)`)
    }))
    .sort((a, b) => b.bytes - a.bytes)
}

export async function analyzeBundle (): Promise<BundleBreakdown> {
  const outDir = await mkdtemp(join(tmpdir(), 'webkad-bundle-'))
  try {
    const build = spawnSync('npx', ['vite', 'build', '--sourcemap', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'warn'], { cwd: REPO_ROOT, encoding: 'utf8' })
    if (build.status !== 0) throw new Error(`vite build --sourcemap failed:\n${build.stdout}\n${build.stderr}`)
    // Every JS file of the build, wherever it lands (as bench/browser/page.ts counts them).
    const scripts = (await readdir(outDir, { recursive: true })).filter(name => /\.m?js$/.test(name))
    const entries: Array<{ name: string, source: string, text: string }> = []
    let totalBytes = 0
    let gzipBytes = 0
    let unmappedBytes = 0
    for (const script of scripts) {
      const code = await readFile(join(outDir, script), 'utf8')
      totalBytes += Buffer.byteLength(code)
      gzipBytes += gzipSync(code, { level: 9 }).byteLength
      const mapText = await readFile(join(outDir, `${script}.map`), 'utf8').catch(() => undefined)
      if (mapText == null) {
        // Copied as is (public/), not bundled: no map to attribute it with.
        unmappedBytes += Buffer.byteLength(code)
        continue
      }
      const map = JSON.parse(mapText) as SourceMap
      const { perSource, unmapped } = attribute(code, map)
      unmappedBytes += unmapped
      for (const [index, texts] of perSource) {
        const source = map.sources[index] ?? '?'
        entries.push({ name: packageOf(source), source, text: texts.join('') })
      }
    }
    const groups = grouped(entries, gzipBytes)
    const families = FAMILIES.map(family => {
      const members = groups.filter(group => family.test(group.name))
      return {
        name: family.name,
        bytes: members.reduce((sum, group) => sum + group.bytes, 0),
        gzipEstimate: members.reduce((sum, group) => sum + group.gzipEstimate, 0),
        examples: []
      }
    })
    return { totalBytes, gzipBytes, unmappedBytes, groups, families }
  } finally {
    await rm(outDir, { recursive: true, force: true })
  }
}
