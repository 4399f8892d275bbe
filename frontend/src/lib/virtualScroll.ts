/**
 * Virtual scroll geometry with fixed row height, for more rows than a browser can lay out.
 *
 * Browsers cap an element's height (Chrome about 33.5M px, Firefox about 17.9M px). The scroll
 * spacer is therefore at most `MAX_SCROLL_PX` high and the scroll position is scaled onto the
 * virtual content: scrollTop 0 is row 0, the bottom of the scrollbar is the last row, and in
 * between the mapping is linear. Below the cap the scale is exactly 1 (plain native scrolling).
 */

export const MAX_SCROLL_PX = 8_000_000

export interface Geometry {
  rows: number
  rowHeight: number
  viewport: number
  maxPx?: number
}

export function spacerHeight({ rows, rowHeight, maxPx = MAX_SCROLL_PX }: Geometry): number {
  return Math.min(rows * rowHeight, maxPx)
}

function ranges(g: Geometry): { maxScroll: number; maxVirtual: number } {
  const content = g.rows * g.rowHeight
  const spacer = spacerHeight(g)
  return { maxScroll: Math.max(0, spacer - g.viewport), maxVirtual: Math.max(0, content - g.viewport) }
}

/** Virtual pixels per scroll pixel (1 below the cap). */
export function scrollScale(g: Geometry): number {
  const { maxScroll, maxVirtual } = ranges(g)
  return maxScroll > 0 ? maxVirtual / maxScroll : 1
}

/** Virtual offset (px into the full content) shown at the top for a scrollTop. */
export function virtualTop(g: Geometry, scrollTop: number): number {
  const { maxScroll, maxVirtual } = ranges(g)
  if (maxScroll <= 0) return 0
  const t = Math.max(0, Math.min(scrollTop, maxScroll))
  return maxScroll === maxVirtual ? t : (t / maxScroll) * maxVirtual
}

/** The scrollTop that puts virtual offset `v` at the top. */
export function scrollTopFor(g: Geometry, v: number): number {
  const { maxScroll, maxVirtual } = ranges(g)
  if (maxVirtual <= 0) return 0
  const clamped = Math.max(0, Math.min(v, maxVirtual))
  return maxScroll === maxVirtual ? clamped : (clamped / maxVirtual) * maxScroll
}

export interface Window {
  /** first row drawn */
  first: number
  /** one past the last row drawn */
  last: number
  /** y (px, relative to the viewport top) of row `first` */
  offset: number
}

/** Rows to draw for a scroll position, with `overscan` extra rows on each side. */
export function visibleWindow(g: Geometry, scrollTop: number, overscan = 4): Window {
  const v = virtualTop(g, scrollTop)
  const top = Math.floor(v / g.rowHeight)
  const first = Math.max(0, top - overscan)
  const last = Math.min(g.rows, Math.ceil((v + g.viewport) / g.rowHeight) + overscan)
  return { first, last, offset: first * g.rowHeight - v }
}

/**
 * Rows grouped into entries of one or more rows each (a wrapped log line takes several): the
 * index a virtual list needs to find what is in view. `lib/rowModel.ts` implements it.
 */
export interface RowIndex {
  readonly entries: number
  readonly rows: number
  /** the entry that covers row `row` (entries when past the end) */
  entryAtRow(row: number): number
  /** the first row of entry `k` */
  rowOf(k: number): number
  /** how many rows entry `k` takes */
  rowsOf(k: number): number
}

export interface Item {
  /** the entry */
  index: number
  /** its top (px, relative to the viewport top) */
  y: number
  /** its height (px) */
  h: number
}

/** The entries to draw for a scroll position, with `overscan` extra rows on each side. */
export function itemsInView(index: RowIndex, g: Geometry, scrollTop: number, overscan = 4): Item[] {
  const n = index.entries
  if (n === 0 || g.viewport <= 0) return []
  const v = virtualTop(g, scrollTop)
  const firstRow = Math.max(0, Math.floor(v / g.rowHeight) - overscan)
  const limit = v + g.viewport + overscan * g.rowHeight
  const out: Item[] = []
  for (let k = index.entryAtRow(firstRow); k < n; k++) {
    const top = index.rowOf(k) * g.rowHeight
    if (top > limit) break
    out.push({ index: k, y: top - v, h: index.rowsOf(k) * g.rowHeight })
  }
  return out
}
