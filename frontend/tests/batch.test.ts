import { describe, expect, it } from 'vitest'
import { attemptsLabel } from '../src/lib/batch'

describe('attemptsLabel', () => {
  it('shows a failed task without retries as its attempt only', () => {
    expect(attemptsLabel({ attempt: 1, max_attempts: 3, retries: 0, retries_used: 0, lost_attempts: 0 })).toBe('attempt 1')
  })
  it('shows the retries spent of those allowed', () => {
    expect(attemptsLabel({ attempt: 3, max_attempts: 3, retries: 2, retries_used: 2, lost_attempts: 0 })).toBe('attempt 3 · retry 2/2')
  })
  it('shows attempts lost to infrastructure against max_attempts', () => {
    expect(attemptsLabel({ attempt: 2, max_attempts: 3, retries: 0, retries_used: 0, lost_attempts: 1 })).toBe('attempt 2 · lost 1/3')
  })
})

import { foldArrays, progressSegments, retryDue } from '../src/lib/batch'

describe('retryDue', () => {
  const now = Date.parse('2026-01-01T00:00:00Z')
  it('says how long until the retry', () => {
    expect(retryDue('2026-01-01T00:00:20Z', now)).toBe('in 20 s')
    expect(retryDue('2026-01-01T00:10:00Z', now)).toBe('in 10 min')
    expect(retryDue('2025-12-31T23:59:59Z', now)).toBe('now')
    expect(retryDue(null, now)).toBeNull()
  })
})

describe('foldArrays', () => {
  it('folds each array into one row where its first element stands', () => {
    const rows = foldArrays([{ id: 9 }, { id: 8, array_id: 2 }, { id: 7 }, { id: 6, array_id: 2 }, { id: 5, array_id: 1 }])
    expect(rows.map((r) => (r.kind === 'task' ? `t${(r.task as { id: number }).id}` : `a${r.arrayId}:${r.tasks.length}`))).toEqual(['t9', 'a2:2', 't7', 'a1:1'])
  })
})

describe('progressSegments', () => {
  it('gives each status with tasks its share of the size, finished first', () => {
    expect(progressSegments({ PENDING: 5, SUCCEEDED: 3, RUNNING: 2, FAILED: 0 }, 10)).toEqual([
      { status: 'SUCCEEDED', count: 3, percent: 30 }, { status: 'RUNNING', count: 2, percent: 20 }, { status: 'PENDING', count: 5, percent: 50 },
    ])
    expect(progressSegments({}, 0)).toEqual([])
  })
})
