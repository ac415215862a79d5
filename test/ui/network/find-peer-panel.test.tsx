// @vitest-environment jsdom
import { cleanup, render, screen, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { DirectDialFailedError, NotConnectedError, PeerNotFoundError } from '../../../src/p2p/errors.ts'
import { chatSelection } from '../../../src/ui/chat/chat-selection.ts'
import { FindPeerPanel } from '../../../src/ui/network/find-peer-panel.tsx'
import { ALICE, BOB, RELAY, SELF, deferred, onlineState } from '../fake-session.ts'
import type { FindPeerResult } from '../../../src/p2p/session.ts'
import type { FindPeerSession } from '../../../src/ui/network/find-peer-panel.tsx'

const ALICE_ADDRESSES = [
  `/ip4/127.0.0.1/tcp/9090/ws/p2p/${RELAY}/p2p-circuit/p2p/${ALICE}`,
  `/ip4/127.0.0.1/tcp/9090/ws/p2p/${RELAY}/p2p-circuit/webrtc/p2p/${ALICE}`
]

function found (overrides: Partial<FindPeerResult> = {}): FindPeerResult {
  return { peerId: ALICE, addresses: ALICE_ADDRESSES, durationMs: 183.4, queriesSent: 3, answeredBy: RELAY, queryId: 'q-1', ...overrides }
}

/** The session as the panel sees it: the real store type, the operations as mocks. */
function fakeSession () {
  return {
    state: onlineState(),
    findPeer: vi.fn<FindPeerSession['findPeer']>(async () => found()),
    dialDirect: vi.fn<FindPeerSession['dialDirect']>(async (peer) => ({ peerId: peer, remoteAddr: `/webrtc/p2p/${peer}`, durationMs: 250.2, attempts: 2, reused: false })),
    ping: vi.fn<FindPeerSession['ping']>(async (peer) => ({ peerId: peer, rttMs: 42.4 })),
    openChat: vi.fn<FindPeerSession['openChat']>((peer) => peer)
  } satisfies FindPeerSession
}

afterEach(cleanup)

describe('FindPeerPanel', () => {
  it('looks up the typed peer ID and shows the addresses found, the time and who answered', async () => {
    const user = userEvent.setup()
    const session = fakeSession()
    render(<FindPeerPanel session={session} />)

    await user.type(screen.getByLabelText('Peer ID to find'), `  ${ALICE} `)
    await user.click(screen.getByRole('button', { name: 'Find peer' }))

    const result = await screen.findByRole('region', { name: 'Find peer result' })
    expect(session.findPeer).toHaveBeenCalledExactlyOnceWith(ALICE, { signal: expect.any(AbortSignal) })
    const addresses = within(result).getByRole('list', { name: 'Addresses found' })
    expect(within(addresses).getAllByRole('listitem').map(item => item.textContent)).toEqual(ALICE_ADDRESSES)
    expect(result.textContent).toContain('Found in 183 ms (3 queries), answered by the relay 12D3KooW…7BWQmd:')
    expect(screen.queryByRole('alert')).toBeNull()
  })

  it('says when the tab answered from its own routing table, in one query', async () => {
    const user = userEvent.setup()
    const session = fakeSession()
    session.findPeer.mockResolvedValueOnce(found({ durationMs: 4.25, queriesSent: 1, answeredBy: SELF }))
    render(<FindPeerPanel session={session} />)

    await user.type(screen.getByLabelText('Peer ID to find'), ALICE)
    await user.click(screen.getByRole('button', { name: 'Find peer' }))

    const result = await screen.findByRole('region', { name: 'Find peer result' })
    expect(result.textContent).toContain('Found in 4.3 ms (1 query), answered by this tab\'s own routing table:')
  })

  it('disables Find peer and shows that it is looking up while the lookup runs', async () => {
    const user = userEvent.setup()
    const session = fakeSession()
    const lookup = deferred<FindPeerResult>()
    session.findPeer.mockReturnValueOnce(lookup.promise)
    render(<FindPeerPanel session={session} />)

    await user.type(screen.getByLabelText('Peer ID to find'), ALICE)
    const button = screen.getByRole('button', { name: 'Find peer' })
    await user.click(button)

    expect(button).toHaveProperty('disabled', true)
    expect(screen.getByText('Looking up…')).toBeDefined()
    // A second press while disabled starts nothing.
    await user.click(button)
    expect(session.findPeer).toHaveBeenCalledTimes(1)

    lookup.resolve(found())
    await screen.findByRole('region', { name: 'Find peer result' })
    expect(button).toHaveProperty('disabled', false)
    expect(screen.queryByText('Looking up…')).toBeNull()
  })

  it('shows the core\'s error message when the peer is not found', async () => {
    const user = userEvent.setup()
    const session = fakeSession()
    session.findPeer.mockRejectedValueOnce(new PeerNotFoundError(`The lookup ended without an address of ${ALICE}.`))
    render(<FindPeerPanel session={session} />)

    await user.type(screen.getByLabelText('Peer ID to find'), ALICE)
    await user.click(screen.getByRole('button', { name: 'Find peer' }))

    const alert = await screen.findByRole('alert')
    expect(alert.textContent).toBe(`The lookup ended without an address of ${ALICE}.`)
    expect(screen.queryByRole('region', { name: 'Find peer result' })).toBeNull()
    expect(screen.getByRole('button', { name: 'Find peer' })).toHaveProperty('disabled', false)
  })

  it('opens a chat with the peer found (not what the field says now), and shows why when it cannot', async () => {
    const user = userEvent.setup()
    const session = fakeSession()
    render(<FindPeerPanel session={session} />)
    const field = screen.getByLabelText('Peer ID to find')
    await user.type(field, ALICE)
    await user.click(screen.getByRole('button', { name: 'Find peer' }))
    const result = await screen.findByRole('region', { name: 'Find peer result' })
    await user.clear(field)
    await user.type(field, BOB)

    await user.click(within(result).getByRole('button', { name: 'Chat' }))
    expect(session.openChat).toHaveBeenCalledExactlyOnceWith(ALICE)
    expect(chatSelection.getSnapshot().peer).toBe(ALICE)
    expect(screen.queryByRole('alert')).toBeNull()

    session.openChat.mockImplementationOnce(() => { throw new NotConnectedError('Connect to a relay first.') })
    await user.click(within(result).getByRole('button', { name: 'Chat' }))
    expect(within(result).getByRole('alert').textContent).toBe('Cannot open the chat. Connect to a relay first.')
  })

  it('connects directly and pings the typed peer, showing each result', async () => {
    const user = userEvent.setup()
    const session = fakeSession()
    render(<FindPeerPanel session={session} />)
    await user.type(screen.getByLabelText('Peer ID to find'), ALICE)

    await user.click(screen.getByRole('button', { name: 'Connect directly' }))
    expect(await screen.findByText('Direct WebRTC connection open in 250 ms (attempt 2).')).toBeDefined()
    expect(session.dialDirect).toHaveBeenCalledExactlyOnceWith(ALICE, { signal: expect.any(AbortSignal) })

    await user.click(screen.getByRole('button', { name: 'Ping' }))
    expect(await screen.findByText('Ping: 42 ms round trip')).toBeDefined()
    expect(session.ping).toHaveBeenCalledExactlyOnceWith(ALICE, { signal: expect.any(AbortSignal) })
  })

  it('shows a failed direct connection as an error', async () => {
    const user = userEvent.setup()
    const session = fakeSession()
    session.dialDirect.mockRejectedValueOnce(new DirectDialFailedError(`No direct connection to ${ALICE} after 3 attempts: ICE failed`))
    render(<FindPeerPanel session={session} />)
    await user.type(screen.getByLabelText('Peer ID to find'), ALICE)

    await user.click(screen.getByRole('button', { name: 'Connect directly' }))
    expect((await screen.findByRole('alert')).textContent).toBe(`No direct connection to ${ALICE} after 3 attempts: ICE failed`)
  })
})
