import { describe, expect, it } from 'vitest'
import { appendPoint, flatten, fromColumns, mergeOf, resample } from '../src/lib/series'

const body = { t: [0, 10, 20], cpu: { used: [1, 2, 3], allocated: [4, 4, 4], capacity: [8, 8, 8] }, tasks: { started: [1, 0, 2], succeeded: [0, 1, 1], failed: [0, 0, 1] } }

describe('series tables', () => {
  it('reads the API columns into named columns', () => {
    const t = fromColumns(10, 3600, body)
    expect(t.t).toEqual([0, 10, 20])
    expect(t.cols['cpu.used']).toEqual([1, 2, 3])
    expect(t.cols['tasks.failed']).toEqual([0, 0, 1])
  })

  it('flattens a live point and knows how each column merges', () => {
    expect(flatten({ t: 5, cpu: { used: 1 }, placement: { avg_ms: null } })).toEqual({ 'cpu.used': 1, 'placement.avg_ms': null })
    expect(mergeOf('tasks.started')).toBe('sum')
    expect(mergeOf('placement.max_ms')).toBe('max')
    expect(mergeOf('cpu.used')).toBe('avg')
  })

  it('appends a live point as a new bucket, or merges it into the last one', () => {
    const t = fromColumns(60, 3600, { t: [0], cpu: { used: [2] }, tasks: { started: [1] }, placement: { max_ms: [5] } })
    expect(appendPoint(t, 30, { 'cpu.used': 4, 'tasks.started': 2, 'placement.max_ms': 9 })).toBe(true)
    expect(t.t).toEqual([0])
    expect(t.cols['cpu.used']).toEqual([3]) // averaged
    expect(t.cols['tasks.started']).toEqual([3]) // added
    expect(t.cols['placement.max_ms']).toEqual([9]) // kept the max
    appendPoint(t, 75, { 'cpu.used': 1, 'tasks.started': 0, 'placement.max_ms': 1 })
    expect(t.t).toEqual([0, 60])
    expect(t.cols['cpu.used']).toEqual([3, 1])
    expect(appendPoint(t, 10, { 'cpu.used': 100 })).toBe(false) // the past is not rewritten
  })

  it('keeps only its window', () => {
    const t = fromColumns(10, 30, { t: [0, 10, 20, 30], cpu: { used: [0, 1, 2, 3] } })
    appendPoint(t, 45, { 'cpu.used': 4 })
    expect(t.t).toEqual([10, 20, 30, 40])
    expect(t.cols['cpu.used']).toEqual([1, 2, 3, 4])
  })

  it('resamples 10 s buckets per minute: counts added, gauges averaged', () => {
    const t = fromColumns(10, 3600, { t: [0, 10, 20, 60, 70], cpu: { used: [1, 2, 3, 5, 7] }, tasks: { started: [1, 1, 1, 2, 2] } })
    const m = resample(t, 60)
    expect(m.t).toEqual([0, 60])
    expect(m.cols['tasks.started']).toEqual([3, 4])
    expect(m.cols['cpu.used']).toEqual([2, 6])
  })
})
