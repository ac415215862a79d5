// @vitest-environment jsdom
import { cleanup, render, screen, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { InvalidRecordError, OperationAbortedError, RecordNotFoundError } from '../../../src/p2p/errors.ts'
import { MAX_PAYLOAD_BYTES, RECORD_KEY_PREFIX } from '../../../src/p2p/dht/records.ts'
import { PutGetPanel } from '../../../src/ui/dht/put-get-panel.tsx'
import { ALICE, BOB, CAROL, SELF, deferred, onlineState } from '../fake-session.ts'
import type { ClosestPeersResult, GetResult, PutResult } from '../../../src/p2p/dht/dht-operations.ts'
import type { PutGetSession } from '../../../src/ui/dht/put-get-panel.tsx'

const HOUR_MS = 60 * 60 * 1000
const fullKey = (key: string): string => key.startsWith(RECORD_KEY_PREFIX) ? key : `${RECORD_KEY_PREFIX}${key}`

function putResult (key: string): PutResult {
  return {
    key: fullKey(key),
    sequence: 3n,
    expiresAt: Date.now() + 24 * HOUR_MS,
    queryId: 'q-put',
    accepted: [ALICE, BOB, SELF],
    failed: [{ peer: CAROL, reason: 'stream reset' }],
    durationMs: 120.6
  }
}

function getResult (key: string): GetResult {
  return {
    key: fullKey(key),
    record: {
      key: fullKey(key),
      payload: { type: 'text', text: 'hello from Alice' },
      author: ALICE,
      sequence: 3n,
      createdAt: Date.now() - 90_000,
      expiresAt: Date.now() + 2 * HOUR_MS,
      signature: new Uint8Array(64)
    },
    queryId: 'q-get',
    holders: [ALICE, BOB],
    outdated: [{ peer: CAROL, sequence: 2n, corrected: true }],
    invalid: [],
    stoppedAtQuorum: true,
    durationMs: 61.2
  }
}

function fakeSession () {
  return {
    state: onlineState(),
    put: vi.fn<PutGetSession['put']>(async (key) => putResult(key)),
    get: vi.fn<PutGetSession['get']>(async (key) => getResult(key)),
    closestPeers: vi.fn<PutGetSession['closestPeers']>(async (key): Promise<ClosestPeersResult> => ({ key: fullKey(key), peers: [BOB, SELF, ALICE], queryId: 'q-closest', durationMs: 95 }))
  } satisfies PutGetSession
}

/** The text of a `<dd>` next to the `<dt>` named `term`. */
function fact (container: HTMLElement, term: string): string | null | undefined {
  return within(container).getByText(term, { selector: 'dt' }).nextElementSibling?.textContent
}

afterEach(cleanup)

describe('PutGetPanel', () => {
  it('puts the typed text under the key and shows the sequence and who stored it', async () => {
    const user = userEvent.setup()
    const session = fakeSession()
    render(<PutGetPanel session={session} />)

    await user.type(screen.getByLabelText('Key'), 'greeting')
    await user.type(screen.getByLabelText('Value'), 'hello world')
    await user.click(screen.getByRole('button', { name: 'Put' }))

    const result = await screen.findByRole('region', { name: 'Put result' })
    expect(session.put).toHaveBeenCalledExactlyOnceWith('greeting', { type: 'text', text: 'hello world' }, { signal: expect.any(AbortSignal) })
    expect(result.textContent).toContain('Stored /webkad/greeting as sequence 3 in 121 ms; expires in 24 h 0 min.')
    expect(within(result).getByRole('heading', { name: 'Accepted by 3' })).toBeDefined()
    const holders = within(result).getByRole('list', { name: 'Peers that stored the record' })
    expect(within(holders).getAllByRole('listitem').map(item => item.textContent)).toEqual(['12D3KooW…7az1AC', '12D3KooW…XjBCo9', 'this tab'])
    expect(within(result).getByRole('heading', { name: 'Failed on 1' })).toBeDefined()
    const failed = within(result).getByRole('list', { name: 'Peers that did not store the record' })
    expect(within(failed).getByRole('listitem').textContent).toBe('12D3KooW…AtA3YZ stream reset')
  })

  it('passes the quorum typed to Get and shows the record found', async () => {
    const user = userEvent.setup()
    const session = fakeSession()
    render(<PutGetPanel session={session} />)

    await user.type(screen.getByLabelText('Key'), 'greeting')
    const quorum = screen.getByLabelText('Quorum')
    await user.clear(quorum)
    await user.type(quorum, '2')
    await user.click(screen.getByRole('button', { name: 'Get' }))

    const result = await screen.findByRole('region', { name: 'Get result' })
    expect(session.get).toHaveBeenCalledExactlyOnceWith('greeting', { signal: expect.any(AbortSignal), quorum: 2 })
    expect(within(result).getByLabelText('Value found').textContent).toBe('hello from Alice')
    expect(fact(result, 'Author')).toBe('12D3KooW…7az1AC')
    expect(fact(result, 'Sequence')).toBe('3')
    expect(fact(result, 'Age')).toBe('1 min')
    expect(fact(result, 'Lookup')).toBe('61 ms, stopped at quorum')
    expect(within(result).getByRole('heading', { name: 'Returned by 2' })).toBeDefined()
    const outdated = within(result).getByRole('list', { name: 'Peers with an outdated record' })
    expect(within(outdated).getByRole('listitem').textContent).toBe('12D3KooW…AtA3YZ had sequence 2 ✓ corrected')
  })

  it('runs Get with quorum 0 (the whole lookup) when the quorum is left alone or emptied', async () => {
    const user = userEvent.setup()
    const session = fakeSession()
    render(<PutGetPanel session={session} />)

    await user.type(screen.getByLabelText('Key'), 'greeting')
    await user.click(screen.getByRole('button', { name: 'Get' }))
    await screen.findByRole('region', { name: 'Get result' })
    await user.clear(screen.getByLabelText('Quorum'))
    await user.click(screen.getByRole('button', { name: 'Get' }))
    await screen.findByRole('region', { name: 'Get result' })

    expect(session.get.mock.calls.map(([, options]) => options?.quorum)).toEqual([0, 0])
  })

  it('disables the actions while an operation runs, and Cancel aborts it', async () => {
    const user = userEvent.setup()
    const session = fakeSession()
    const started = deferred<AbortSignal | undefined>()
    session.put.mockImplementationOnce(async (_key, _payload, options) => {
      started.resolve(options?.signal)
      return await new Promise<PutResult>((_resolve, reject) => {
        options?.signal?.addEventListener('abort', () => { reject(new OperationAbortedError('Put was cancelled')) })
      })
    })
    render(<PutGetPanel session={session} />)
    await user.type(screen.getByLabelText('Key'), 'greeting')
    await user.type(screen.getByLabelText('Value'), 'hello')

    await user.click(screen.getByRole('button', { name: 'Put' }))
    const signal = await started.promise
    for (const name of ['Put', 'Get', 'Closest peers']) {
      expect(screen.getByRole('button', { name })).toHaveProperty('disabled', true)
    }
    expect(screen.getByRole('status').textContent).toBe('Storing: reading the current sequence, then sending to the closest peers…')

    await user.click(screen.getByRole('button', { name: 'Cancel' }))
    expect(signal?.aborted).toBe(true)
    expect((await screen.findByRole('alert')).textContent).toBe('Cancelled. Put was cancelled')
    expect(screen.queryByRole('button', { name: 'Cancel' })).toBeNull()
    expect(screen.queryByRole('status')).toBeNull()
    for (const name of ['Put', 'Get', 'Closest peers']) {
      expect(screen.getByRole('button', { name })).toHaveProperty('disabled', false)
    }
  })

  it('shows a failed Get with a plain headline and the core\'s message', async () => {
    const user = userEvent.setup()
    const session = fakeSession()
    session.get.mockRejectedValueOnce(new RecordNotFoundError('No peer returned a valid record for /webkad/missing.', 'no-record'))
    render(<PutGetPanel session={session} />)

    await user.type(screen.getByLabelText('Key'), 'missing')
    await user.click(screen.getByRole('button', { name: 'Get' }))

    expect((await screen.findByRole('alert')).textContent).toBe('No record under this key. No peer returned a valid record for /webkad/missing.')
    expect(screen.queryByRole('region', { name: 'Get result' })).toBeNull()
  })

  it('marks a value over the limit, and shows the core refusing it', async () => {
    const user = userEvent.setup()
    const session = fakeSession()
    session.put.mockRejectedValueOnce(new InvalidRecordError(`The value is ${MAX_PAYLOAD_BYTES + 1} bytes; the limit is ${MAX_PAYLOAD_BYTES}.`, 'oversized'))
    render(<PutGetPanel session={session} />)

    await user.type(screen.getByLabelText('Key'), 'big')
    const value = screen.getByLabelText('Value')
    expect(screen.getByText('0 / 10,240 bytes')).toBeDefined()
    await user.click(value)
    await user.paste('a'.repeat(MAX_PAYLOAD_BYTES + 1))
    expect(screen.getByText('10,241 / 10,240 bytes (over the limit)')).toBeDefined()

    await user.click(screen.getByRole('button', { name: 'Put' }))
    expect((await screen.findByRole('alert')).textContent).toBe('Value too large. The value is 10241 bytes; the limit is 10240.')
  })

  it('looks up the closest peers of the key', async () => {
    const user = userEvent.setup()
    const session = fakeSession()
    render(<PutGetPanel session={session} />)

    await user.type(screen.getByLabelText('Key'), '/webkad/greeting')
    await user.click(screen.getByRole('button', { name: 'Closest peers' }))

    const result = await screen.findByRole('region', { name: 'Closest peers result' })
    expect(session.closestPeers).toHaveBeenCalledExactlyOnceWith('/webkad/greeting', { signal: expect.any(AbortSignal) })
    expect(result.textContent).toContain('3 closest to /webkad/greeting, found in 95 ms:')
    const peers = within(result).getByRole('list', { name: 'Closest peers found' })
    expect(within(peers).getAllByRole('listitem').map(item => item.textContent)).toEqual(['12D3KooW…XjBCo9', 'this tab', '12D3KooW…7az1AC'])
  })

  it('moves the key under this tab\'s namespace with "Use my namespace"', async () => {
    const user = userEvent.setup()
    const session = fakeSession()
    render(<PutGetPanel session={session} />)

    const key = screen.getByLabelText('Key')
    await user.type(key, `/webkad/${ALICE}/greeting`)
    await user.click(screen.getByRole('button', { name: 'Use my namespace' }))
    expect(key).toHaveProperty('value', `${SELF}/greeting`)
  })
})
