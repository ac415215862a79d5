// @vitest-environment jsdom
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { act, cleanup, fireEvent, render, screen } from '@testing-library/react'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { NetworkMapPanel } from '../../../src/ui/map/network-map-panel.tsx'
import { createStore } from '../../../src/p2p/stores/store.ts'
import { InvalidRecordKeyError } from '../../../src/p2p/errors.ts'
import type { CrawlResult } from '../../../src/p2p/crawl/crawl-types.ts'
import type { KeyHoldersResult } from '../../../src/p2p/crawl/key-holders.ts'
import type { QueryTrace, TracePeer } from '../../../src/p2p/dht/query-trace.ts'
import type { WebkadSession } from '../../../src/p2p/session.ts'

/** The parts of a session the panel uses; `queries` is a real store. */
function fakeSession (parts: Partial<Pick<WebkadSession, 'crawl' | 'keyHolders'>>, queries: QueryTrace[] = []): WebkadSession {
  return { queries: createStore<readonly QueryTrace[]>(queries), node: undefined, ...parts } as unknown as WebkadSession
}

function tracePeer (peer: string): TracePeer {
  return { peer, distanceHex: '00', distance: '0', distanceLog2: 0 }
}

afterEach(() => { cleanup(); vi.useRealTimers() })

async function crawlOfTwo (): Promise<CrawlResult> {
  const [self, other] = await Promise.all([generateKeyPair('Ed25519'), generateKeyPair('Ed25519')]).then(keys => keys.map(key => peerIdFromPrivateKey(key).toString()))
  return {
    format: 'webkad-crawl', version: 1, crawler: self!, startedAt: 1000, finishedAt: 1100, kBucketSize: 20, requests: 2, cancelled: false,
    nodes: [
      { peerId: self!, kind: 'self', status: 'self', addresses: [], seenAt: 1000, requests: 0, routingTable: [other!] },
      { peerId: other!, kind: 'tab', status: 'crawled', addresses: [], seenAt: 1000, crawledAt: 1100, requests: 2, routingTable: [] }
    ]
  }
}

describe('NetworkMapPanel', () => {
  it('crawls on Crawl and lists every node with its table size', async () => {
    const result = await crawlOfTwo()
    const crawl = vi.fn(async () => result)
    render(<NetworkMapPanel session={fakeSession({ crawl })} />)
    await act(async () => { fireEvent.click(screen.getByRole('button', { name: 'Crawl' })) })
    expect(crawl).toHaveBeenCalledTimes(1)
    expect(screen.getByRole('status', { name: 'Crawl state' }).getAttribute('data-state')).toBe('done')
    const buttons = screen.getByRole('list', { name: 'Nodes on the map' }).querySelectorAll('button')
    expect([...buttons].map(button => button.getAttribute('data-table-size'))).toEqual(['1', '0'])
  })

  it('refuses a repeat interval outside 5-3600 s with a message and schedules no crawl until it is valid', async () => {
    vi.useFakeTimers()
    const result = await crawlOfTwo()
    const crawl = vi.fn(async () => result)
    render(<NetworkMapPanel session={fakeSession({ crawl })} />)
    fireEvent.change(screen.getByRole('spinbutton', { name: 'Repeat interval in seconds' }), { target: { value: '2' } })
    fireEvent.click(screen.getByRole('checkbox', { name: 'Repeat every' }))
    expect(screen.getByRole('alert').textContent).toContain('from 5 to 3600')
    await act(async () => { await vi.advanceTimersByTimeAsync(60_000) })
    expect(crawl).not.toHaveBeenCalled()
    fireEvent.change(screen.getByRole('spinbutton', { name: 'Repeat interval in seconds' }), { target: { value: '5' } })
    expect(screen.queryByRole('alert')).toBeNull()
    await act(async () => { await vi.advanceTimersByTimeAsync(5_000) })
    expect(crawl).toHaveBeenCalledTimes(1)
  })

  it('asks for a key\'s holders, lists each with its state and sequence, and rings them on the map', async () => {
    const result = await crawlOfTwo()
    const [self, other] = result.nodes.map(node => node.peerId)
    const answer: KeyHoldersResult = {
      key: '/webkad/greeting', targetKadId: 'ab'.repeat(32), k: 2, bestSequence: '2', startedAt: 1, finishedAt: 2,
      holders: [
        { peerId: other!, rank: 0, distance: '2^250', state: 'holds', sequence: '2', author: self! },
        { peerId: self!, rank: 1, distance: '2^255', state: 'stale', sequence: '1', author: self! }
      ]
    }
    const keyHolders = vi.fn(async () => answer)
    render(<NetworkMapPanel session={fakeSession({ crawl: async () => result, keyHolders })} />)
    await act(async () => { fireEvent.click(screen.getByRole('button', { name: 'Crawl' })) })
    fireEvent.change(screen.getByLabelText('Key to look at'), { target: { value: 'greeting' } })
    await act(async () => { fireEvent.click(screen.getByRole('button', { name: 'Find holders' })) })
    expect(keyHolders).toHaveBeenCalledWith(result, 'greeting', expect.objectContaining({ signal: expect.any(AbortSignal) }))
    const list = screen.getByRole('list', { name: 'Closest nodes to the key' })
    expect(list.getAttribute('data-state')).toBe('done')
    const rows = [...list.querySelectorAll('[data-testid="key-holder"]')].map(row => [row.getAttribute('data-peer'), row.getAttribute('data-holder-state'), row.getAttribute('data-sequence')])
    expect(rows).toEqual([[other, 'holds', '2'], [self, 'stale', '1']])
    const ring = screen.getByRole('img', { name: /^Network map ring/ })
    expect(ring.querySelectorAll('.map-holder-holds')).toHaveLength(1)
    expect(ring.querySelectorAll('.map-holder-stale')).toHaveLength(1)
    expect(ring.querySelector('.map-key-marker title')?.textContent).toBe('Key /webkad/greeting')
  })

  it('says why a key cannot be looked at, and the map stays', async () => {
    const result = await crawlOfTwo()
    const keyHolders = vi.fn(async () => { throw new InvalidRecordKeyError('The key is empty: give the record a name.') })
    render(<NetworkMapPanel session={fakeSession({ crawl: async () => result, keyHolders })} />)
    await act(async () => { fireEvent.click(screen.getByRole('button', { name: 'Crawl' })) })
    await act(async () => { fireEvent.click(screen.getByRole('button', { name: 'Find holders' })) })
    expect(screen.getByRole('alert').textContent).toBe('Could not look at the key: The key is empty: give the record a name.')
    expect(screen.getByRole('list', { name: 'Closest nodes to the key' }).getAttribute('data-state')).toBe('failed')
    expect(screen.getByRole('list', { name: 'Nodes on the map' }).querySelectorAll('button')).toHaveLength(2)
  })

  it('replays a lookup from Lookups step by step over the map', async () => {
    const result = await crawlOfTwo()
    const [, other] = result.nodes.map(node => node.peerId)
    const trace: QueryTrace = {
      id: 'q1', operation: 'get', label: '/webkad/greeting', origin: 'user', targetKadId: 'ab'.repeat(32), startedAt: 1, status: 'done', messagesSent: 1, finalPeers: [],
      events: [
        { kind: 'dial-peer', at: 1, path: 0, peer: tracePeer(other!) },
        { kind: 'send-query', at: 2, path: 0, to: tracePeer(other!), message: 'GET_VALUE' },
        { kind: 'peer-response', at: 30, path: 0, from: tracePeer(other!), message: 'GET_VALUE', closer: [], hasRecord: true },
        { kind: 'value', at: 31, path: 0, from: tracePeer(other!) },
        { kind: 'path-ended', at: 32, path: 0 }
      ]
    }
    render(<NetworkMapPanel session={fakeSession({ crawl: async () => result }, [trace])} />)
    await act(async () => { fireEvent.click(screen.getByRole('button', { name: 'Crawl' })) })
    fireEvent.change(screen.getByLabelText('Lookup to replay'), { target: { value: 'q1' } })
    const step = (): string => screen.getByRole('status', { name: 'Replay step' }).textContent ?? ''
    const ring = screen.getByRole('img', { name: /^Network map ring/ })
    expect(step()).toBe('Step 0 of 3: Start: nothing sent yet.')
    expect(screen.getByRole('button', { name: 'Step back' }).hasAttribute('disabled')).toBe(true)
    fireEvent.click(screen.getByRole('button', { name: 'Step forward' }))
    expect(step()).toMatch(/^Step 1 of 3: 0\.00 s: sent GET_VALUE to /)
    expect(ring.querySelectorAll('.map-lookup-ask')).toHaveLength(1)
    expect(ring.querySelectorAll('.map-lookup-asked')).toHaveLength(1)
    fireEvent.click(screen.getByRole('button', { name: 'Step forward' }))
    fireEvent.click(screen.getByRole('button', { name: 'Step forward' }))
    expect(step()).toMatch(/returned the value\.$/)
    expect(ring.querySelectorAll('.map-lookup-found')).toHaveLength(1)
    expect(screen.getByRole('button', { name: 'Step forward' }).hasAttribute('disabled')).toBe(true)
    fireEvent.click(screen.getByRole('button', { name: 'Step back' }))
    expect(step()).toMatch(/^Step 2 of 3: .* answered GET_VALUE with 0 closer peers and the record\.$/)
    expect(ring.querySelectorAll('.map-lookup-found')).toHaveLength(0)
    expect(ring.querySelectorAll('.map-lookup-answered')).toHaveLength(1)
  })

  it('plays a replay to its end and stops', async () => {
    vi.useFakeTimers()
    const result = await crawlOfTwo()
    const [, other] = result.nodes.map(node => node.peerId)
    const trace: QueryTrace = {
      id: 'q2', operation: 'find-peer', label: other!, origin: 'user', targetKadId: '00'.repeat(32), startedAt: 1, status: 'done', messagesSent: 1, finalPeers: [],
      events: [
        { kind: 'send-query', at: 2, path: 0, to: tracePeer(other!), message: 'FIND_NODE' },
        { kind: 'query-error', at: 9, path: 0, from: tracePeer(other!), error: 'stream reset' }
      ]
    }
    render(<NetworkMapPanel session={fakeSession({ crawl: async () => result }, [trace])} />)
    await act(async () => { fireEvent.click(screen.getByRole('button', { name: 'Crawl' })) })
    fireEvent.change(screen.getByLabelText('Lookup to replay'), { target: { value: 'q2' } })
    fireEvent.click(screen.getByRole('button', { name: 'Play' }))
    expect(screen.getByRole('button', { name: 'Pause' })).toBeTruthy()
    // One step per 700 ms; each act lets React schedule the next step's timer.
    for (let tick = 0; tick < 4; tick++) await act(async () => { await vi.advanceTimersByTimeAsync(700) })
    expect(screen.getByRole('status', { name: 'Replay step' }).textContent).toMatch(/^Step 2 of 2: .* failed: stream reset$/)
    expect(screen.getByRole('button', { name: 'Play' })).toBeTruthy()
    expect(screen.getByRole('img', { name: /^Network map ring/ }).querySelectorAll('.map-lookup-failed')).toHaveLength(1)
  })
})
