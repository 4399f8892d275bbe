import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { effectScope } from 'vue'
import { useReconnectingSocket, type ReconnectingSocketOptions } from '../src/composables/useReconnectingSocket'
import { FakeSocket } from './helpers'

function setup(over: Partial<ReconnectingSocketOptions> = {}) {
  const messages: string[] = []
  const closes: Array<number | null> = []
  let n = 0
  const link = useReconnectingSocket({
    url: () => `ws://x/${n++}`,
    WebSocketImpl: FakeSocket as never,
    random: () => 0.5,
    onMessage: (d) => messages.push(d),
    onClose: (_ev, retryIn) => closes.push(retryIn),
    ...over,
  })
  return { link, messages, closes }
}

describe('useReconnectingSocket', () => {
  beforeEach(() => {
    FakeSocket.reset()
    vi.useFakeTimers()
  })
  afterEach(() => vi.useRealTimers())

  it('opens, reports its status and hands text frames on', () => {
    const { link, messages } = setup()
    expect(link.status.value).toBe('idle')
    link.open()
    expect(link.status.value).toBe('connecting')
    expect(FakeSocket.last.url).toBe('ws://x/0')
    FakeSocket.last.open()
    expect(link.status.value).toBe('open')
    FakeSocket.last.receive({ a: 1 })
    expect(messages).toEqual(['{"a":1}'])
    expect(link.lastMessageAt.value).not.toBeNull()
  })

  it('reconnects with exponential backoff, reads the URL again, and resets once a frame arrives', () => {
    const { link, closes } = setup()
    link.open()
    FakeSocket.last.drop()
    expect(link.status.value).toBe('retrying')
    expect(closes).toEqual([500])
    vi.advanceTimersByTime(499)
    expect(FakeSocket.instances).toHaveLength(1)
    vi.advanceTimersByTime(1)
    expect(FakeSocket.last.url).toBe('ws://x/1')
    FakeSocket.last.drop()
    FakeSocket.last.drop() // a stale socket's second close changes nothing
    vi.advanceTimersByTime(1000)
    expect(FakeSocket.instances).toHaveLength(3)
    expect(link.failures.value).toBe(2)
    FakeSocket.last.open()
    expect(link.failures.value).toBe(2) // opened is not enough: a server may accept, then close
    FakeSocket.last.receive('hi')
    expect(link.failures.value).toBe(0)
    FakeSocket.last.drop()
    expect(closes[closes.length - 1]).toBe(500)
  })

  it('adds jitter to the delay', () => {
    const low = setup({ random: () => 0 })
    low.link.open()
    FakeSocket.last.drop()
    const high = setup({ random: () => 1 })
    high.link.open()
    FakeSocket.last.drop()
    expect(low.closes).toEqual([375])
    expect(high.closes).toEqual([625])
  })

  it('does not retry when told not to', () => {
    const { link, closes } = setup({ shouldReconnect: (ev) => ev.code !== 4401 })
    link.open()
    FakeSocket.last.drop(4401)
    expect(closes).toEqual([null])
    expect(link.status.value).toBe('closed')
    vi.advanceTimersByTime(60_000)
    expect(FakeSocket.instances).toHaveLength(1)
  })

  it('buffers sends until open and sends heartbeats while open', () => {
    const { link } = setup({ heartbeat: { message: 'ping', interval: 1000 } })
    link.open()
    expect(link.send('early')).toBe(false)
    vi.advanceTimersByTime(5000)
    expect(FakeSocket.last.sent).toEqual([])
    FakeSocket.last.open()
    expect(FakeSocket.last.sent).toEqual(['early'])
    expect(link.send('now')).toBe(true)
    vi.advanceTimersByTime(2000)
    expect(FakeSocket.last.sent).toEqual(['early', 'now', 'ping', 'ping'])
    FakeSocket.last.drop()
    vi.advanceTimersByTime(5000)
    expect(FakeSocket.instances[0].sent).toHaveLength(4) // no heartbeat on a dead socket
  })

  it('keeps at most bufferLimit frames while closed, dropping the oldest', () => {
    const { link } = setup({ bufferLimit: 2 })
    link.open()
    link.send('1')
    link.send('2')
    link.send('3')
    FakeSocket.last.open()
    expect(FakeSocket.last.sent).toEqual(['2', '3'])
  })

  it('treats a silent link as dropped after idleMs', () => {
    const { link, closes } = setup({ idleMs: 3000 })
    link.open()
    const first = FakeSocket.last
    first.open()
    vi.advanceTimersByTime(2000)
    first.receive('still here')
    vi.advanceTimersByTime(2999)
    expect(FakeSocket.instances).toHaveLength(1)
    vi.advanceTimersByTime(1)
    expect(first.closed).toBe(true)
    expect(closes).toEqual([500])
    vi.advanceTimersByTime(500)
    expect(FakeSocket.instances).toHaveLength(2)
  })

  it('reconnect() opens a new socket now without counting a failure; close() stops for good', () => {
    const { link, closes } = setup()
    link.open()
    const first = FakeSocket.last
    link.reconnect()
    expect(first.closed).toBe(true)
    expect(FakeSocket.instances).toHaveLength(2)
    expect(link.failures.value).toBe(0)
    expect(closes).toEqual([])
    link.close()
    expect(link.status.value).toBe('closed')
    expect(FakeSocket.last.closed).toBe(true)
    vi.advanceTimersByTime(60_000)
    expect(FakeSocket.instances).toHaveLength(2)
    link.reconnect() // closed: nothing
    expect(FakeSocket.instances).toHaveLength(2)
  })

  it('closes with its scope', () => {
    const scope = effectScope()
    scope.run(() => setup().link.open())
    const ws = FakeSocket.last
    scope.stop()
    expect(ws.closed).toBe(true)
    vi.advanceTimersByTime(60_000)
    expect(FakeSocket.instances).toHaveLength(1)
  })
})
