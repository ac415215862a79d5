import { useId } from 'react'
import { formatMs, shortPeerId } from '../common/format.ts'
import { useElementWidth } from './use-element-width.ts'
import type { QueryTrace, TraceEvent, TracePeer } from '../../p2p/dht/query-trace.ts'

const MIN_WIDTH = 280
const MAX_WIDTH = 900
const LEFT = 72
const RIGHT = 12
const LANE_GAP = 12
const TOP = 8
const AXIS = 40

interface Mark { at: number, peer: TracePeer, kind: 'sent' | 'answered' | 'had-record' | 'failed' }

/** The peer an event is about, and how to draw it; events without a peer are not plotted as dots. */
function markOf (event: TraceEvent): Mark | undefined {
  switch (event.kind) {
    case 'send-query': return { at: event.at, peer: event.to, kind: 'sent' }
    case 'peer-response': return { at: event.at, peer: event.from, kind: event.hasRecord ? 'had-record' : 'answered' }
    case 'query-error': return { at: event.at, peer: event.from, kind: 'failed' }
    default: return undefined
  }
}

/**
 * One lane per disjoint path (-1: this tab's local work). Each request and answer is a dot at
 * its time (x) and its peer's log2 XOR distance to the target (y, far at the top), so a
 * working lookup draws lines that fall towards the target.
 */
export function TraceChart ({ trace }: { trace: QueryTrace }): React.JSX.Element {
  const [measureRef, measuredWidth] = useElementWidth(640)
  const width = Math.min(MAX_WIDTH, Math.max(MIN_WIDTH, measuredWidth))
  const titleId = useId()
  const descId = useId()
  const marks = trace.events.flatMap(event => { const mark = markOf(event); return mark == null ? [] : [{ ...mark, path: event.path }] })
  const ends = trace.events.filter(event => event.kind === 'path-ended')
  const lanes = [...new Set([...marks, ...ends].map(event => event.path))].sort((a, b) => a - b)
  const lastAt = Math.max(trace.durationMs ?? 0, ...trace.events.map(event => event.at), 1)
  // Lookups can idle before their first request (dialling, waiting for a peer): start the time
  // axis just before the first plotted event when that idle time would squash the picture.
  const firstAt = Math.min(...[...marks, ...ends].map(event => event.at), lastAt)
  const startAt = firstAt > lastAt * 0.2 ? Math.max(0, firstAt - (lastAt - firstAt) * 0.05) : 0
  const closest = Math.min(...marks.map(mark => mark.peer.distanceLog2), 256)
  // Zoom the distance axis to the data: with few peers every distance is near 2^256.
  const bottomBits = Math.max(0, Math.min(250, Math.floor(closest) - 2))
  // Many paths get flatter lanes so the chart stays about one screen tall.
  const laneHeight = lanes.length > 3 ? 50 : 70
  const height = TOP + Math.max(lanes.length, 1) * (laneHeight + LANE_GAP) + AXIS
  const x = (at: number): number => LEFT + ((at - startAt) / (lastAt - startAt)) * (width - LEFT - RIGHT)
  const laneTop = (path: number): number => TOP + lanes.indexOf(path) * (laneHeight + LANE_GAP)
  const y = (path: number, bits: number): number => laneTop(path) + ((256 - bits) / (256 - bottomBits)) * laneHeight
  const answered = marks.filter(mark => mark.kind === 'answered' || mark.kind === 'had-record')

  return (
    <div ref={measureRef} className="trace-chart-box">
      <svg className="trace-chart" width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-labelledby={`${titleId} ${descId}`}>
        <title id={titleId}>XOR distance to the target per request, over time</title>
        <desc id={descId}>
          {`${answered.length} answer(s) on ${lanes.filter(lane => lane >= 0).length} path(s) between ${formatMs(startAt)} and ${formatMs(lastAt)}; closest peer reached at 2^${closest.toFixed(1)}. Distance axis from 2^256 (top) to 2^${bottomBits} (bottom).`}
        </desc>
        {lanes.map(path => (
          <g key={path} className="lane">
            <rect className="lane-bg" x={LEFT} y={laneTop(path)} width={width - LEFT - RIGHT} height={laneHeight} />
            <text className="lane-label" x={4} y={laneTop(path) + laneHeight / 2} dominantBaseline="middle">{path < 0 ? 'local' : `path ${path}`}</text>
            <text className="axis-text" x={LEFT - 4} y={laneTop(path) + 8} textAnchor="end">2^256</text>
            <text className="axis-text" x={LEFT - 4} y={laneTop(path) + laneHeight - 2} textAnchor="end">2^{bottomBits}</text>
            <polyline
              className="lane-line"
              points={answered.filter(mark => mark.path === path).map(mark => `${x(mark.at)},${y(path, mark.peer.distanceLog2)}`).join(' ')}
            />
          </g>
        ))}
        {ends.map((end, index) => (
          <line key={`end-${index}`} className="path-end" x1={x(end.at)} x2={x(end.at)} y1={laneTop(end.path)} y2={laneTop(end.path) + laneHeight}>
            <title>{`path ${end.path} ended at ${formatMs(end.at)}`}</title>
          </line>
        ))}
        {marks.map((mark, index) => <TraceMark key={index} mark={mark} cx={x(mark.at)} cy={y(mark.path, mark.peer.distanceLog2)} />)}
        <g className="axis-text">
          <text x={LEFT} y={height - 24}>{startAt === 0 ? '0 ms' : formatMs(startAt)}</text>
          <text x={width - RIGHT} y={height - 24} textAnchor="end">{formatMs(lastAt)}</text>
          <text x={(LEFT + width - RIGHT) / 2} y={height - 6} textAnchor="middle">{startAt === 0 ? 'time since start →' : 'time since start (idle start cut) →'}</text>
        </g>
      </svg>
    </div>
  )
}

function TraceMark ({ mark, cx, cy }: { mark: Mark, cx: number, cy: number }): React.JSX.Element {
  const label = `${shortPeerId(mark.peer.peer)} ${mark.kind === 'sent' ? 'asked' : mark.kind === 'failed' ? 'failed' : 'answered'}${mark.kind === 'had-record' ? ' with the record' : ''} at ${formatMs(mark.at)}; distance ${mark.peer.distance}`
  if (mark.kind === 'failed') {
    return (
      <path className="mark-failed" d={`M ${cx - 4} ${cy - 4} L ${cx + 4} ${cy + 4} M ${cx - 4} ${cy + 4} L ${cx + 4} ${cy - 4}`}>
        <title>{label}</title>
      </path>
    )
  }
  return <circle className={`mark-${mark.kind}`} cx={cx} cy={cy} r={mark.kind === 'sent' ? 3 : 4.5}><title>{label}</title></circle>
}
