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
