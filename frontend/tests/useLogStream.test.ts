import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { useLogBuffer } from '../src/composables/useLogBuffer'
import { useLogStream } from '../src/composables/useLogStream'
import { FakeSocket, manualFrames } from './helpers'

const task = (attempt: number, status = 'RUNNING') => ({ id: 7, attempt, status }) as never
const status = (attempt: number, s = 'RUNNING') => ({ type: 'status', status: s, attempt, task: task(attempt, s) })
const log = (seq: number, data: string, attempt = 1, stream = 'stdout') => ({ type: 'log', attempt, seq, stream, data, ts: 1 })

function setup(fetchPage?: Parameters<typeof useLogStream>[0]['fetchPage']) {
  const frames = manualFrames()
  const buffer = useLogBuffer({ raf: frames.raf, cancelRaf: frames.cancelRaf })
  const stream = useLogStream({ taskId: 7, buffer, url: (p) => `ws://x${p}`, WebSocketImpl: FakeSocket as never, fetchPage, random: () => 0.5, gapMs: 100 })
  return { frames, buffer, stream }
}

function lines(buffer: ReturnType<typeof useLogBuffer>): string[] {
  const out: string[] = []
  for (let i = buffer.store.base; i < buffer.store.end; i++) out.push(buffer.store.text(i))
  return out
}

describe('useLogStream', () => {
  beforeEach(() => {
    FakeSocket.reset()
    vi.useFakeTimers()
  })
  afterEach(() => vi.useRealTimers())

  it('loads history then live into the buffer, following the newest attempt', () => {
    const { frames, buffer, stream } = setup()
    stream.start()
    expect(FakeSocket.last.url).toBe('ws://x/ws/tasks/7/logs/')
    const ws = FakeSocket.last
    ws.open()
    ws.receive(status(1))
    ws.receive(log(0, 'h1\nh2\n'))
    ws.receive(log(1, 'live\n'))
    frames.frame()
    expect(stream.state.value).toBe('live')
    expect(stream.status.value).toBe('RUNNING')
    expect(lines(buffer)).toEqual(['h1', 'h2', 'live'])
  })

  it('reconnects after a drop and resumes after the last seq held, without duplicates', () => {
    const { frames, buffer, stream } = setup()
    stream.start()
    const first = FakeSocket.last
    first.receive(status(1))
    first.receive(log(0, 'a\n'))
    first.receive(log(1, 'b\n'))
    first.drop(1006)
    expect(stream.state.value).toBe('reconnecting')
    vi.advanceTimersByTime(1000)
    const second = FakeSocket.last
    expect(second).not.toBe(first)
    expect(second.url).toBe('ws://x/ws/tasks/7/logs/?attempt=1&after=1')
    second.receive(status(1))
    second.receive(log(1, 'b\n')) // a replay is ignored
    second.receive(log(2, 'c\n'))
    frames.frame()
    expect(lines(buffer)).toEqual(['a', 'b', 'c'])
  })

  it('backs off between failed reconnects', () => {
    const { stream } = setup()
    stream.start()
    FakeSocket.last.drop()
    vi.advanceTimersByTime(499)
    expect(FakeSocket.instances).toHaveLength(1)
    vi.advanceTimersByTime(1)
    expect(FakeSocket.instances).toHaveLength(2)
    FakeSocket.last.drop()
    vi.advanceTimersByTime(999)
    expect(FakeSocket.instances).toHaveLength(2)
    vi.advanceTimersByTime(1)
    expect(FakeSocket.instances).toHaveLength(3)
  })

  it('does not retry when the server refuses (not signed in)', () => {
    const { stream } = setup()
    stream.start()
    FakeSocket.last.drop(4401)
    vi.advanceTimersByTime(60_000)
    expect(FakeSocket.instances).toHaveLength(1)
    expect(stream.state.value).toBe('unauthorized')
  })

  it('switches to a newer attempt: its lines replace the old ones', () => {
    const { frames, buffer, stream } = setup()
    stream.start()
    const ws = FakeSocket.last
    ws.receive(status(1))
    ws.receive(log(0, 'first try\n'))
    frames.frame()
    ws.receive({ type: 'attempt', attempt: 2 })
    ws.receive(log(0, 'second try\n', 2))
    frames.frame()
    expect(buffer.attempt.value).toBe(2)
    expect(lines(buffer)).toEqual(['second try'])
    expect(stream.newestAttempt.value).toBe(2)
  })

  it('fills a gap from REST when a seq is missing', async () => {
    const fetchPage = vi.fn(async ({ after }: { attempt: number; after: number; limit: number }) => ({
      task: 7, attempt: 1, attempts: [1], status: 'RUNNING' as const, more: false, next_after: 2,
      chunks: after === 0 ? [{ attempt: 1, seq: 1, stream: 'stdout' as const, data: 'b\n', ts: 1 }] : [],
    }))
    const { frames, buffer, stream } = setup(fetchPage)
    stream.start()
    const ws = FakeSocket.last
    ws.receive(status(1))
    ws.receive(log(0, 'a\n'))
    ws.receive(log(2, 'c\n')) // seq 1 never came
    await vi.advanceTimersByTimeAsync(150)
    expect(fetchPage).toHaveBeenCalledWith({ attempt: 1, after: 0, limit: 5000 })
    frames.frame()
    expect(lines(buffer)).toEqual(['a', 'b', 'c'])
  })

  it('pins an older attempt and opens its log from the start', () => {
    const { stream } = setup()
    stream.start()
    FakeSocket.last.receive(status(2))
    stream.pin(1)
    expect(FakeSocket.last.url).toBe('ws://x/ws/tasks/7/logs/?attempt=1&after=-1')
    FakeSocket.last.receive(status(2))
    expect(stream.pinned.value).toBe(1)
  })
})
