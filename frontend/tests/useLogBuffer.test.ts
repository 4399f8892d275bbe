import { describe, expect, it, vi } from 'vitest'
import { useLogBuffer, type LogChunk } from '../src/composables/useLogBuffer'
import { manualFrames } from './helpers'

const chunk = (seq: number, data: string, stream: 'stdout' | 'stderr' = 'stdout', attempt = 1): LogChunk => ({ attempt, seq, stream, data, ts: 1000 + seq })

function setup(extra: Parameters<typeof useLogBuffer>[0] = {}) {
  const frames = manualFrames()
  const buffer = useLogBuffer({ raf: frames.raf, cancelRaf: frames.cancelRaf, ...extra })
  buffer.reset(1)
  return { frames, buffer }
}

describe('useLogBuffer', () => {
  it('applies the first chunk into an empty buffer at once, so the first lines paint a frame sooner', () => {
    const { frames, buffer } = setup()
    buffer.push(chunk(0, 'a\nb\n'))
    expect(buffer.lines.value).toBe(2)
    expect(buffer.flushes.value).toBe(1)
    expect(frames.pending).toBe(0)
    buffer.push(chunk(1, 'c\n'))
    expect(buffer.lines.value).toBe(2) // the next ones wait for a frame
    expect(frames.pending).toBe(1)
    buffer.reset(2) // a new attempt starts empty: its first chunk is again applied at once
    buffer.push(chunk(0, 'x\n', 'stdout', 2))
    expect(buffer.lines.value).toBe(1)
  })

  it('applies chunks after the first only on the next animation frame, in one flush', () => {
    const { frames, buffer } = setup()
    buffer.push(chunk(0, 'first\n'))
    const v0 = buffer.version.value
    buffer.push(chunk(1, 'a\nb\n'))
    buffer.push(chunk(2, 'c\n'))
    buffer.push(chunk(3, 'd\n'))
    expect(buffer.lines.value).toBe(1)
    expect(buffer.store.size).toBe(1)
    expect(frames.pending).toBe(1) // one frame requested for the three chunks
    frames.frame()
    expect(buffer.lines.value).toBe(5)
    expect(buffer.version.value).toBe(v0 + 1)
    expect(buffer.flushes.value).toBe(2)
    expect(frames.pending).toBe(0)
  })

  it('requests no frame when nothing new arrived (duplicates are dropped at push)', () => {
    const { frames, buffer } = setup()
    buffer.push(chunk(0, 'a\n'))
    frames.frame()
    expect(buffer.push(chunk(0, 'a\n'))).toBe(false)
    expect(frames.pending).toBe(0)
    expect(buffer.lines.value).toBe(1)
  })

  it('reports the lines added to its listeners', () => {
    const { frames, buffer } = setup()
    const seen: number[] = []
    buffer.onFlush((r) => seen.push(r.added))
    buffer.push(chunk(0, 'a\nb\n'))
    frames.frame()
    buffer.push(chunk(1, 'c'))
    frames.frame()
    buffer.push(chunk(2, 'c\n'))
    frames.frame()
    expect(seen).toEqual([2, 1, 0])
    expect(buffer.store.text(2)).toBe('cc')
  })

  it('spreads a burst over several frames when it exceeds the time budget', () => {
    let t = 0
    const { frames, buffer } = setup({ now: () => t, budgetMs: 8 })
    for (let i = 0; i < 10; i++) buffer.push(chunk(i, `line ${i}\n`)) // line 0 is applied at once
    // every chunk "costs" 3 ms: three fit in one frame's 8 ms budget
    const origAppend = buffer.store.append.bind(buffer.store)
    buffer.store.append = (s, d, ts) => {
      t += 3
      return origAppend(s, d, ts)
    }
    frames.frame()
    expect(buffer.lines.value).toBe(4)
    expect(frames.pending).toBe(1) // the rest is scheduled
    frames.frame()
    frames.frame()
    frames.frame()
    expect(buffer.lines.value).toBe(10)
    expect(buffer.store.text(9)).toBe('line 9')
  })

  it('knows where to resume and orders chunks that arrive out of order', () => {
    const { frames, buffer } = setup()
    buffer.push(chunk(0, 'a\n'))
    buffer.push(chunk(2, 'c\n'))
    expect(buffer.lastSeq()).toBe(0)
    expect(buffer.hasGap()).toBe(true)
    buffer.push(chunk(1, 'b\n'))
    expect(buffer.lastSeq()).toBe(2)
    frames.frame()
    expect([0, 1, 2].map((i) => buffer.store.text(i))).toEqual(['a', 'b', 'c'])
  })

  it('reset starts a new attempt and discards what was queued', () => {
    const { frames, buffer } = setup()
    buffer.push(chunk(0, 'old\n'))
    buffer.reset(2)
    expect(frames.pending).toBe(0)
    expect(buffer.push(chunk(1, 'attempt 1 again\n'))).toBe(false)
    buffer.push(chunk(0, 'new\n', 'stdout', 2))
    frames.frame()
    expect(buffer.store.text(0)).toBe('new')
    expect(buffer.attempt.value).toBe(2)
  })

  it('drains from a timer when no animation frame comes (a hidden tab)', () => {
    vi.useFakeTimers()
    try {
      const { frames, buffer } = setup({ fallbackMs: 500 })
      buffer.push(chunk(0, 'first\n')) // applied at once
      buffer.push(chunk(1, 'a\n'))
      vi.advanceTimersByTime(499)
      expect(buffer.lines.value).toBe(1)
      vi.advanceTimersByTime(1)
      expect(buffer.lines.value).toBe(2)
      expect(frames.pending).toBe(0) // the frame request was withdrawn
      buffer.push(chunk(2, 'b\n'))
      frames.frame() // frames again: no timer flush on top
      vi.advanceTimersByTime(1000)
      expect(buffer.flushes.value).toBe(3)
    } finally {
      vi.useRealTimers()
    }
  })

  it('takes frames as JSON text, reading only attempt and seq until the flush', () => {
    const { frames, buffer } = setup()
    const frame = (seq: number, data: string) => JSON.stringify({ type: 'log', attempt: 1, seq, stream: 'stderr', data, ts: 5 }).replace(/,"/g, ', "').replace(/":/g, '": ')
    expect(frame(0, 'x')).toMatch(/^\{"type": "log", "attempt": 1, "seq": 0,/) // the master's json.dumps format
    expect(buffer.pushFrame(frame(0, 'a\n'))).toBe(true)
    expect(buffer.pushFrame(frame(0, 'a\n'))).toBe(false) // duplicate, known without parsing
    expect(buffer.pushFrame(frame(2, 'c\n'))).toBe(false) // held behind the gap
    expect(buffer.pushFrame(frame(1, 'b\n'))).toBe(true)
    expect(buffer.lastSeq()).toBe(2)
    frames.frame()
    expect([0, 1, 2].map((i) => buffer.store.text(i))).toEqual(['a', 'b', 'c'])
    expect(buffer.store.stream(0)).toBe(1)
    expect(buffer.store.ts(2)).toBe(5)
  })

  it('parses at once a frame whose head is unexpected', () => {
    const { frames, buffer } = setup()
    expect(buffer.pushFrame(JSON.stringify({ seq: 0, type: 'log', attempt: 1, stream: 'stdout', data: 'odd order\n', ts: 1 }))).toBe(true)
    frames.frame()
    expect(buffer.store.text(0)).toBe('odd order')
  })

  it('starts the window at the first chunk line and puts an older page in front', () => {
    const { frames, buffer } = setup()
    buffer.reset(1, 4)
    buffer.push({ ...chunk(5, 'l50\nl51\n'), line: 50, lines: 2, cont: false })
    buffer.push({ ...chunk(6, 'l52\n'), line: 52, lines: 1, cont: false })
    frames.frame()
    expect([buffer.store.base, buffer.store.end, buffer.firstSeq()]).toEqual([50, 53, 5])
    const older = [3, 4].map((seq) => ({ ...chunk(seq, `l${seq * 10}\n`), line: 48 + seq - 3, lines: 1, cont: false }))
    expect(buffer.prepend(older)).toBe(true)
    expect([buffer.store.base, buffer.store.end, buffer.firstSeq()]).toEqual([48, 53, 3])
    expect(buffer.store.text(48)).toBe('l30')
    expect(buffer.store.text(52)).toBe('l52')
    buffer.push({ ...chunk(7, 'l53\n'), line: 53, lines: 1, cont: false })
    frames.frame()
    expect(buffer.store.text(53)).toBe('l53')
  })
})
