import { describe, expect, it } from 'vitest'
import { MAX_SCROLL_PX, scrollScale, scrollTopFor, spacerHeight, virtualTop, visibleWindow } from '../src/lib/virtualScroll'

describe('virtual scroll geometry', () => {
  it('is plain scrolling below the element-height cap', () => {
    const g = { rows: 1000, rowHeight: 18, viewport: 180 }
    expect(spacerHeight(g)).toBe(18000)
    expect(scrollScale(g)).toBe(1)
    expect(visibleWindow(g, 180, 0)).toEqual({ first: 10, last: 20, offset: 0 })
  })

  it('scales past the cap: a million 18 px lines fit a spacer under the browser limit', () => {
    const g = { rows: 1_000_000, rowHeight: 18, viewport: 600 }
    expect(spacerHeight(g)).toBe(MAX_SCROLL_PX)
    expect(scrollScale(g)).toBeGreaterThan(2)
    const maxScroll = MAX_SCROLL_PX - 600
    // the bottom of the scrollbar shows the last line
    const w = visibleWindow(g, maxScroll, 0)
    expect(w.last).toBe(1_000_000)
    expect(w.offset + (w.last - w.first) * 18).toBeCloseTo(600, 5)
    // the top shows line 0
    expect(visibleWindow(g, 0, 0).first).toBe(0)
  })

  it('can put any line at the top, and maps back to it', () => {
    const g = { rows: 5_000_000, rowHeight: 18, viewport: 600 }
    for (const line of [0, 1, 123_456, 2_500_000, 4_999_966]) {
      const top = scrollTopFor(g, line * 18)
      expect(Math.round(virtualTop(g, top) / 18)).toBe(line)
    }
  })

  it('has no spacer and no offset when everything fits', () => {
    const g = { rows: 3, rowHeight: 18, viewport: 600 }
    expect(virtualTop(g, 100)).toBe(0)
    expect(visibleWindow(g, 0)).toEqual({ first: 0, last: 3, offset: 0 })
  })
})
