// @vitest-environment jsdom
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { act, cleanup, fireEvent, render, screen } from '@testing-library/react'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { NetworkMapPanel } from '../../../src/ui/map/network-map-panel.tsx'
import type { CrawlResult } from '../../../src/p2p/crawl/crawl-types.ts'
import type { WebkadSession } from '../../../src/p2p/session.ts'

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
    render(<NetworkMapPanel session={{ crawl } as unknown as WebkadSession} />)
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
    render(<NetworkMapPanel session={{ crawl } as unknown as WebkadSession} />)
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
})
