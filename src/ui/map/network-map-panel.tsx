import { peerIdFromString } from '@libp2p/peer-id'
import { useCallback, useEffect, useMemo, useRef, useState } from 'react'
import { crawlToJson, parseCrawlFile } from '../../p2p/crawl/crawl-file.ts'
import { commonPrefixLength, kadIdOfPeer, toHex } from '../../p2p/dht/kad-math.ts'
import { shortPeerId } from '../common/format.ts'
import { ringFraction } from '../dht/dht-format.ts'
import { KeyHoldersControls } from './key-holders-controls.tsx'
import { LookupReplayControls } from './lookup-replay-controls.tsx'
import { replayPeers } from './replay-frame.ts'
import './network-map.css'
import type { ReplayFrame } from './replay-frame.ts'
import type { CrawlCounts, CrawlResult, CrawledNode } from '../../p2p/crawl/crawl-types.ts'
import type { KeyHoldersResult } from '../../p2p/crawl/session-crawl.ts'
import type { QueryTrace } from '../../p2p/dht/query-trace.ts'
import type { WebkadSession } from '../../p2p/session.ts'

type CrawlState = 'idle' | 'running' | 'done' | 'cancelled' | 'failed'
const NO_COUNTS: CrawlCounts = { crawled: 0, found: 0, unreachable: 0, requests: 0 }
const SIZE = 420
const CENTER = SIZE / 2
const RADIUS = 170
/** Above this many routing-table edges the map draws them fainter (a 50-node crawl has ~1500). */
const DENSE_EDGES = 200
const MIN_REPEAT_S = 5
const MAX_REPEAT_S = 3600

interface PlacedNode { node: CrawledNode, kadId: Uint8Array, x: number, y: number }

/** A point on (or off, `radius`) the keyspace ring for a Kademlia ID: its first 32 bits, 0 at the top. */
function ringPoint (kadIdHex: string, radius = RADIUS): { x: number, y: number } {
  const angle = ringFraction(kadIdHex) * 2 * Math.PI - Math.PI / 2
  return { x: CENTER + radius * Math.cos(angle), y: CENTER + radius * Math.sin(angle) }
}

/** Where a node sits on the keyspace ring. */
function place (node: CrawledNode): PlacedNode | undefined {
  try {
    const kadId = kadIdOfPeer(peerIdFromString(node.peerId))
    return { node, kadId, ...ringPoint(toHex(kadId)) }
  } catch {
    return undefined // an imported ID that is not a peer ID: listed, not placed
  }
}

/** A diamond just outside the ring where a key (or a lookup's target) falls. */
function KeyMarker ({ kadIdHex, label, className }: { kadIdHex: string, label: string, className: string }): React.JSX.Element {
  const { x, y } = ringPoint(kadIdHex, RADIUS + 14)
  return (
    <path d={`M ${x} ${y - 7} L ${x + 7} ${y} L ${x} ${y + 7} L ${x - 7} ${y} Z`} className={className}>
      <title>{label}</title>
    </path>
  )
}

/** The counts of a finished (or imported) crawl, as its progress events counted them. */
function countsOf (result: CrawlResult): CrawlCounts {
  const withStatus = (status: CrawledNode['status']): number => result.nodes.filter(node => node.status === status).length
  return { crawled: withStatus('crawled'), found: result.nodes.length, unreachable: withStatus('unreachable'), requests: result.requests }
}

/** A reconstructed routing table as buckets, the way the Routing table panel groups this tab's own. */
function bucketsOf (owner: PlacedNode, table: readonly string[]): Array<{ cpl: number, peers: string[] }> {
  const buckets = new Map<number, string[]>()
  for (const peer of table) {
    let cpl = -1
    try { cpl = commonPrefixLength(owner.kadId, kadIdOfPeer(peerIdFromString(peer))) } catch { /* not a peer ID: bucket unknown */ }
    buckets.set(cpl, [...(buckets.get(cpl) ?? []), peer])
  }
  return [...buckets.entries()].sort((a, b) => a[0] - b[0]).map(([cpl, peers]) => ({ cpl, peers }))
}

/** The crawled network: a crawl over standard FIND_NODE, its nodes on the keyspace ring, their tables, export and import. */
export function NetworkMapPanel ({ session }: { session: WebkadSession }): React.JSX.Element {
  const [state, setState] = useState<CrawlState>('idle')
  const [counts, setCounts] = useState<CrawlCounts>(NO_COUNTS)
  const [result, setResult] = useState<CrawlResult>()
  const [error, setError] = useState<string>()
  const [showEdges, setShowEdges] = useState(true)
  const [chosen, setChosen] = useState<string>()
  const [repeat, setRepeat] = useState(false)
  const [repeatSeconds, setRepeatSeconds] = useState('30')
  const [holders, setHolders] = useState<KeyHoldersResult>()
  const [replay, setReplay] = useState<{ trace: QueryTrace, frame: ReplayFrame }>()
  const onReplay = useCallback((next: { trace: QueryTrace, frame: ReplayFrame } | undefined) => { setReplay(next) }, [])
  const controller = useRef<AbortController | undefined>(undefined)
  // The repeat timer calls the latest crawl() without restarting on every render.
  const crawlRef = useRef<() => Promise<void>>(async () => {})

  const placed = useMemo(() => (result?.nodes ?? []).map(place).filter((node): node is PlacedNode => node != null), [result])
  const byPeer = useMemo(() => new Map(placed.map(entry => [entry.node.peerId, entry])), [placed])
  const edgeCount = useMemo(() => placed.reduce((sum, entry) => sum + entry.node.routingTable.filter(peer => byPeer.has(peer)).length, 0), [placed, byPeer])
  const kBucketSize = result?.kBucketSize ?? 20
  const repeatValid = /^\d+$/.test(repeatSeconds) && Number(repeatSeconds) >= MIN_REPEAT_S && Number(repeatSeconds) <= MAX_REPEAT_S

  async function crawl (): Promise<void> {
    controller.current?.abort()
    const abort = new AbortController()
    controller.current = abort
    setState('running')
    setError(undefined)
    setCounts(NO_COUNTS)
    try {
      const crawled = await session.crawl({ signal: abort.signal, onProgress: event => { setCounts(event.counts) } })
      setResult(crawled)
      setHolders(undefined)
      setCounts(countsOf(crawled))
      setState(crawled.cancelled ? 'cancelled' : 'done')
    } catch (err) {
      setError((err as Error).message)
      setState(abort.signal.aborted ? 'cancelled' : 'failed')
    }
  }

  useEffect(() => { crawlRef.current = crawl })
  // Repeat: the next crawl starts N seconds after the last one ended, while the box is ticked.
  useEffect(() => {
    if (!repeat || !repeatValid || state === 'running') return
    const timer = setTimeout(() => { void crawlRef.current() }, Number(repeatSeconds) * 1000)
    return () => { clearTimeout(timer) }
  }, [repeat, repeatSeconds, repeatValid, state])
  useEffect(() => () => { controller.current?.abort() }, [])

  function exportCrawl (): void {
    if (result == null) return
    const url = URL.createObjectURL(new Blob([crawlToJson(result)], { type: 'application/json' }))
    const link = document.createElement('a')
    link.href = url
    link.download = `webkad-crawl-${new Date(result.finishedAt).toISOString().replace(/[:.]/g, '-')}.json`
    link.click()
    setTimeout(() => { URL.revokeObjectURL(url) }, 10_000)
  }

  async function importCrawl (file: File | undefined): Promise<void> {
    if (file == null) return
    try {
      const imported = parseCrawlFile(await file.text())
      controller.current?.abort()
      setResult(imported)
      setHolders(undefined)
      setChosen(undefined)
      setError(undefined)
      setCounts(countsOf(imported))
      setState(imported.cancelled ? 'cancelled' : 'done')
    } catch (err) {
      setError(`Could not import ${file.name}: ${(err as Error).message}`)
    }
  }

  const chosenNode = chosen != null ? byPeer.get(chosen) : undefined
  // The lookup replayed starts at this tab (which may be absent from an imported crawl: then the centre).
  const self = session.node?.peerId.toString()
  const origin = (self != null ? byPeer.get(self) : undefined) ?? { x: CENTER, y: CENTER }
  const holderState = new Map(holders?.holders.map(holder => [holder.peerId, holder.state]))
  const missingFromMap = replay != null ? [...replayPeers(replay.trace)].filter(peer => !byPeer.has(peer) && peer !== self).length : 0
  const currentPeer = replay?.frame.current == null ? undefined : replay.frame.current.kind === 'send-query' ? replay.frame.current.to.peer : replay.frame.current.from.peer
  return (
    <section id="network-map" className="panel network-map" aria-label="Network map">
      <h2>Network map</h2>
      <p className="hint">Crawls every reachable node over standard FIND_NODE (keys chosen to land in each of its buckets) and rebuilds its routing table.</p>
      <div className="actions">
        <button type="button" onClick={() => { void crawl() }} disabled={state === 'running'}>Crawl</button>
        <button type="button" onClick={() => { controller.current?.abort() }} disabled={state !== 'running'}>Cancel crawl</button>
        <label><input type="checkbox" checked={repeat} onChange={event => { setRepeat(event.target.checked) }} aria-label="Repeat every" /> Repeat every</label>
        <input type="number" min={MIN_REPEAT_S} max={MAX_REPEAT_S} value={repeatSeconds} onChange={event => { setRepeatSeconds(event.target.value) }} aria-label="Repeat interval in seconds" aria-invalid={!repeatValid} className="narrow" /> s
        <button type="button" onClick={exportCrawl} disabled={result == null}>Export JSON</button>
        <label className="file-button">Import JSON <input type="file" accept="application/json,.json" aria-label="Import JSON" onChange={event => { void importCrawl(event.target.files?.[0]); event.target.value = '' }} /></label>
      </div>
      {!repeatValid && <p role="alert">The repeat interval is a whole number of seconds from {MIN_REPEAT_S} to {MAX_REPEAT_S}.</p>}
      <p role="status" aria-label="Crawl state" data-state={state}>
        {state === 'idle' ? 'Not crawled yet.' : state === 'running' ? 'Crawling…' : state === 'done' ? 'Crawl finished.' : state === 'cancelled' ? 'Crawl cancelled (partial result).' : 'Crawl failed.'}
        {' '}Crawled <span role="status" aria-label="Crawled">{counts.crawled}</span>, found <span role="status" aria-label="Found">{counts.found}</span>,
        unreachable <span role="status" aria-label="Unreachable">{counts.unreachable}</span>, requests <span role="status" aria-label="Requests">{counts.requests}</span>
        {result != null && state !== 'running' && <> in {result.finishedAt - result.startedAt} ms</>}
      </p>
      {error != null && <p role="alert">{error}</p>}
      {result != null && (
        <>
          <label><input type="checkbox" checked={showEdges} onChange={event => { setShowEdges(event.target.checked) }} aria-label="Show routing-table edges" /> Show routing-table edges</label>
          <svg className={edgeCount > DENSE_EDGES ? 'map-ring map-dense' : 'map-ring'} viewBox={`0 0 ${SIZE} ${SIZE}`} role="img" aria-label={`Network map ring: ${placed.length} nodes on the keyspace ring`}>
            <circle cx={CENTER} cy={CENTER} r={RADIUS} className="map-ring-line" />
            {showEdges && placed.flatMap(from => from.node.routingTable.map(peer => byPeer.get(peer)).filter(to => to != null).map(to => (
              <line key={`${from.node.peerId}>${to.node.peerId}`} x1={from.x} y1={from.y} x2={to.x} y2={to.y} className={from.node.peerId === chosen ? 'map-edge map-edge-chosen' : 'map-edge'} />
            )))}
            {replay != null && (
              <g className="map-lookup">
                {replay.frame.referrals.map(({ from, to }, index) => {
                  const a = byPeer.get(from)
                  const b = byPeer.get(to)
                  return a != null && b != null ? <line key={`r${index}`} x1={a.x} y1={a.y} x2={b.x} y2={b.y} className="map-lookup-referral" /> : null
                })}
                {[...replay.frame.asked].map(peer => {
                  const to = byPeer.get(peer)
                  return to != null ? <line key={`a${peer}`} x1={origin.x} y1={origin.y} x2={to.x} y2={to.y} className={peer === currentPeer ? 'map-lookup-ask map-lookup-current' : 'map-lookup-ask'} /> : null
                })}
                <KeyMarker kadIdHex={replay.trace.targetKadId} label={`Lookup target: ${replay.trace.label}`} className="map-lookup-target" />
              </g>
            )}
            {holders != null && <KeyMarker kadIdHex={holders.targetKadId} label={`Key ${holders.key}`} className="map-key-marker" />}
            {placed.map(entry => {
              const state = holderState.get(entry.node.peerId)
              const peer = entry.node.peerId
              const lookup = replay == null ? undefined : replay.frame.found.has(peer) ? 'found' : replay.frame.failed.has(peer) ? 'failed' : replay.frame.answered.has(peer) ? 'answered' : replay.frame.asked.has(peer) ? 'asked' : undefined
              return (
                <g key={`o${peer}`}>
                  {state != null && <circle cx={entry.x} cy={entry.y} r={12} className={`map-holder map-holder-${state}`} />}
                  {lookup != null && <circle cx={entry.x} cy={entry.y} r={peer === currentPeer ? 15 : 10} className={`map-lookup-peer map-lookup-${lookup}`} />}
                </g>
              )
            })}
            {placed.map(entry => (
              <circle key={entry.node.peerId} cx={entry.x} cy={entry.y} r={entry.node.peerId === chosen ? 9 : 6} className={`map-node map-node-${entry.node.kind} map-status-${entry.node.status}`} onClick={() => { setChosen(entry.node.peerId) }}>
                <title>{`${shortPeerId(entry.node.peerId)} (${entry.node.kind}, ${entry.node.status})`}</title>
              </circle>
            ))}
          </svg>
          <p className="hint map-legend">
            <span className="map-key map-node-self">●</span> this tab <span className="map-key map-node-tab">●</span> tab <span className="map-key map-node-relay">●</span> relay
            <span className="map-key map-node-other">●</span> other peer; a hollow dot could not be reached. Bars: routing-table entries (out of k = {kBucketSize} per bucket used).
          </p>
          <KeyHoldersControls session={session} crawl={result} onResult={setHolders} />
          <LookupReplayControls session={session} onFrame={onReplay} />
          {missingFromMap > 0 && <p className="hint">{missingFromMap} of the peers in this lookup are not on the map (crawl again to place them).</p>}
          <ul aria-label="Nodes on the map" className="map-node-list">
            {result.nodes.map(node => (
              <li key={node.peerId}>
                <button type="button" data-peer={node.peerId} data-kind={node.kind} data-status={node.status} data-table-size={node.routingTable.length} aria-pressed={node.peerId === chosen} onClick={() => { setChosen(node.peerId) }}>
                  <code>{shortPeerId(node.peerId)}</code> <span>{node.kind}, {node.status}, {node.routingTable.length} in table</span>
                </button>
                <meter min={0} max={Math.max(kBucketSize, node.routingTable.length)} value={node.routingTable.length} aria-label={`Routing-table entries of ${shortPeerId(node.peerId)}`} />
              </li>
            ))}
          </ul>
          {chosenNode != null && (
            <section aria-label="Chosen node" data-peer={chosenNode.node.peerId} className="map-chosen">
              <h3>Node <code>{shortPeerId(chosenNode.node.peerId)}</code>: {chosenNode.node.kind}, {chosenNode.node.status}</h3>
              {chosenNode.node.error != null && <p className="hint">{chosenNode.node.error}</p>}
              {chosenNode.node.routingTable.length === 0 ? <p className="hint">No routing-table entries were learned from this node.</p> : (
                <ol aria-label="Its buckets">
                  {bucketsOf(chosenNode, chosenNode.node.routingTable).map(bucket => (
                    <li key={bucket.cpl}>
                      Bucket {bucket.cpl < 0 ? '?' : bucket.cpl} ({bucket.peers.length}/{kBucketSize}):{' '}
                      {bucket.peers.map(peer => <code key={peer} data-testid="map-bucket-peer" data-peer={peer} className="chip">{shortPeerId(peer)}</code>)}
                    </li>
                  ))}
                </ol>
              )}
            </section>
          )}
        </>
      )}
    </section>
  )
}
