import { describe, expect, it } from 'vitest'
import { itemsInView, MAX_SCROLL_PX, scrollScale, scrollTopFor, spacerHeight, virtualTop, visibleWindow, type RowIndex } from '../src/lib/virtualScroll'

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

/** entries of given row counts */
function index(sizes: number[]): RowIndex {
  const starts: number[] = []
  let rows = 0
  for (const n of sizes) {
    starts.push(rows)
    rows += n
  }
  return {
    entries: sizes.length,
    rows,
    rowOf: (k) => starts[k],
    rowsOf: (k) => sizes[k],
    entryAtRow: (r) => {
      let k = 0
      while (k + 1 < starts.length && starts[k + 1] <= r) k++
      return r >= rows ? sizes.length : k
    },
  }
}

describe('itemsInView', () => {
  it('lists the entries in view with their position and height, plus overscan', () => {
    const idx = index([1, 3, 1, 1, 2, 1, 1, 1])
    const g = { rows: idx.rows, rowHeight: 10, viewport: 30 }
    // scrolled by 2 rows: row 2 belongs to entry 1 (rows 1-3)
    expect(itemsInView(idx, g, 20, 0)).toEqual([
      { index: 1, y: -10, h: 30 },
      { index: 2, y: 20, h: 10 },
      { index: 3, y: 30, h: 10 },
    ])
    expect(itemsInView(idx, g, 20, 1).map((i) => i.index)).toEqual([1, 2, 3, 4]) // row 1 is entry 1 too
    expect(itemsInView(idx, g, 20, 2).map((i) => i.index)).toEqual([0, 1, 2, 3, 4])
  })

  it('is empty without entries or before the viewport is measured', () => {
    expect(itemsInView(index([]), { rows: 0, rowHeight: 10, viewport: 30 }, 0)).toEqual([])
    expect(itemsInView(index([1, 1]), { rows: 2, rowHeight: 10, viewport: 0 }, 0)).toEqual([])
  })

  it('stays bounded and ends at the last entry past the height cap', () => {
    const n = 2_000_000
    const idx: RowIndex = { entries: n, rows: n, rowOf: (k) => k, rowsOf: () => 1, entryAtRow: (r) => Math.min(r, n) }
    const g = { rows: n, rowHeight: 18, viewport: 600 }
    const items = itemsInView(idx, g, MAX_SCROLL_PX - 600, 6)
    expect(items.length).toBeLessThan(50)
    expect(items[items.length - 1].index).toBe(n - 1)
    expect(items[items.length - 1].y + 18).toBeCloseTo(600, 3)
  })
})
