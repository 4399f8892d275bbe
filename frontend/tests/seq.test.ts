import { describe, expect, it } from 'vitest'
import { SeqTracker } from '../src/lib/seq'

const c = (seq: number, attempt = 1) => ({ attempt, seq })

describe('SeqTracker', () => {
  it('accepts chunks in order and remembers the last seq for resuming', () => {
    const t = new SeqTracker(1)
    expect(t.accept(c(0))).toEqual([c(0)])
    expect(t.accept(c(1))).toEqual([c(1)])
    expect(t.last).toBe(1)
  })

  it('drops duplicates (a reconnect that replays what we hold)', () => {
    const t = new SeqTracker(1)
    t.accept(c(0))
    t.accept(c(1))
    expect(t.accept(c(1))).toEqual([])
    expect(t.accept(c(0))).toEqual([])
    expect(t.last).toBe(1)
  })

  it('holds chunks past a gap and releases them in order once it is filled', () => {
    const t = new SeqTracker(1)
    t.accept(c(0))
    expect(t.accept(c(3))).toEqual([])
    expect(t.accept(c(2))).toEqual([])
    expect(t.hasGap).toBe(true)
    expect(t.gapEnd).toBe(2)
    expect(t.accept(c(1))).toEqual([c(1), c(2), c(3)])
    expect(t.hasGap).toBe(false)
    expect(t.last).toBe(3)
  })

  it('ignores chunks of another attempt', () => {
    const t = new SeqTracker(2)
    expect(t.accept(c(0, 1))).toEqual([])
    expect(t.accept(c(0, 2))).toEqual([c(0, 2)])
  })

  it('resumes after a given seq', () => {
    const t = new SeqTracker(1, 41)
    expect(t.accept(c(41))).toEqual([])
    expect(t.accept(c(42))).toEqual([c(42)])
    t.reset(2)
    expect(t.last).toBe(-1)
    expect(t.accept(c(0, 2))).toHaveLength(1)
  })
})
