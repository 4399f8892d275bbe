import { describe, expect, it } from 'vitest'
import { applyCarriageReturns } from '../src/lib/carriage'

describe('applyCarriageReturns', () => {
  it('shows the last state of a progress line', () => {
    expect(applyCarriageReturns('progress 10%\rprogress 100%')).toBe('progress 100%')
  })
  it('overwrites only as far as the new text goes, like a terminal', () => {
    expect(applyCarriageReturns('abcdef\rxy')).toBe('xycdef')
  })
  it('leaves lines without a carriage return and trailing ones alone', () => {
    expect(applyCarriageReturns('plain')).toBe('plain')
    expect(applyCarriageReturns('done\r')).toBe('done')
  })
})
