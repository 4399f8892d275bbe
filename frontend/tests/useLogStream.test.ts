import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { useLogBuffer } from '../src/composables/useLogBuffer'
import { useLogStream, type LogPageParams } from '../src/composables/useLogStream'
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
    const fetchPage = vi.fn(async ({ after }: LogPageParams) => ({
      task: 7, attempt: 1, attempts: [1], status: 'RUNNING' as const, more: false, next_after: 2,
      chunks: after === 0 ? [{ attempt: 1, seq: 1, stream: 'stdout' as const, data: 'b\n', ts: 1 }] : [],
    }))
    const { frames, buffer, stream } = setup(fetchPage)
    stream.start()
    await vi.advanceTimersByTimeAsync(0) // the tail page (empty) first
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

  describe('tail first', () => {
    // A finished log of 10,000 lines, 10 a chunk: chunk s holds lines 10s .. 10s+9.
    const chunkAt = (seq: number) => ({
      attempt: 1, seq, stream: 'stdout' as const, ts: 1, line: seq * 10, lines: 10, cont: false,
      data: Array.from({ length: 10 }, (_, j) => `line ${seq * 10 + j}`).join('\n') + '\n',
    })
    const LAST = 999
    function pageOf(params: LogPageParams) {
      let seqs: number[] = []
      if (params.tail) seqs = range(LAST - 9, LAST)
      else if (params.before !== undefined) seqs = range(Math.max(0, params.before - 10), params.before - 1)
      else if (params.line !== undefined) seqs = range(Math.floor(params.line / 10), Math.min(LAST, Math.floor(params.line / 10) + 9))
      else if (params.after !== undefined) seqs = range(params.after + 1, Math.min(LAST, params.after + 10))
      const chunks = seqs.map(chunkAt)
      return {
        task: 7, attempt: 1, attempts: [1], status: 'SUCCEEDED' as const, chunks, total_lines: 10_000,
        next_after: chunks.length ? chunks[chunks.length - 1].seq : (params.after ?? -1),
        more: params.after !== undefined ? (chunks.length ? chunks[chunks.length - 1].seq < LAST : false) : true,
      }
    }
    const range = (a: number, b: number) => Array.from({ length: Math.max(0, b - a + 1) }, (_, i) => a + i)

    it('opens at the last page with its real line numbers, then the socket resumes after it', async () => {
      const fetchPage = vi.fn(async (p: LogPageParams) => pageOf(p))
      const { buffer, stream } = setup(fetchPage)
      stream.start()
      await vi.advanceTimersByTimeAsync(0)
      expect(fetchPage).toHaveBeenCalledWith({ attempt: undefined, tail: 1, limit: 1000 })
      expect([buffer.store.base, buffer.store.end]).toEqual([9900, 10_000])
      expect(buffer.store.text(9999)).toBe('line 9999')
      expect(FakeSocket.last.url).toBe('ws://x/ws/tasks/7/logs/?attempt=1&after=999')
      expect(stream.totalLines.value).toBe(10_000)
    })

    it('scrolling up puts older pages in front, down to the first line', async () => {
      const { buffer, stream } = setup(vi.fn(async (p: LogPageParams) => pageOf(p)))
      stream.start()
      await vi.advanceTimersByTimeAsync(0)
      expect(await stream.loadOlder()).toBe(true)
      expect([buffer.store.base, buffer.store.end]).toEqual([9800, 10_000])
      expect(buffer.store.text(9800)).toBe('line 9800')
      expect(buffer.store.text(9999)).toBe('line 9999')
    })

    it('a line outside the window loads its page, detached from the live end, and paging down reattaches', async () => {
      const fetchPage = vi.fn(async (p: LogPageParams) => pageOf(p))
      const { buffer, stream } = setup(fetchPage)
      stream.start()
      await vi.advanceTimersByTimeAsync(0)
      const live = FakeSocket.last
      expect(await stream.showLine(1234)).toBe(true)
      expect(stream.detached.value).toBe(true)
      expect(live.closed).toBe(true)
      expect(buffer.store.text(1234)).toBe('line 1234')
      expect(fetchPage).toHaveBeenCalledWith({ attempt: 1, line: 1234, limit: 1000 })
      let pages = 0
      while (stream.detached.value && pages < 200) {
        await stream.loadNewer()
        pages++
      }
      expect(stream.detached.value).toBe(false)
      expect(FakeSocket.last).not.toBe(live)
      expect(FakeSocket.last.url).toBe('ws://x/ws/tasks/7/logs/?attempt=1&after=999')
    })
  })
})
