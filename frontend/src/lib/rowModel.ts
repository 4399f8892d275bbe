/**
 * Rows the viewer scrolls over: the store's lines, optionally filtered to one stream and
 * optionally wrapped at a column count (a wrapped line takes several fixed-height rows).
 *
 * Without filter and wrap, row r is line base + r and nothing is stored. Otherwise `lines` holds
 * the absolute index of each shown line and `cum[k]` the rows before entry k (both typed arrays,
 * grown by doubling, appended incrementally as the store grows).
 */

import { stripAnsi } from './ansi'
import { STDERR, STDOUT, type LineStore } from './lineStore'

export type StreamFilter = 'all' | 'stdout' | 'stderr'

export function wrappedRows(text: string, cols: number): number {
  if (cols <= 0) return 1
  let n = text.length
  if (text.indexOf('\x1b') >= 0) n = stripAnsi(text).length
  return Math.max(1, Math.ceil(n / cols))
}

/** Rows line i takes when wrapped at `cols` (escape sequences count as zero width). */
export function lineRows(store: LineStore, i: number, cols: number): number {
  if (cols <= 0) return 1
  const n = store.hasEscape(i) ? stripAnsi(store.text(i)).length : store.length(i)
  return Math.max(1, Math.ceil(n / cols))
}

export class RowModel {
  readonly filter: StreamFilter
  readonly cols: number
  private lines = new Int32Array(1024)
  private cum = new Float64Array(1025)
  private start = 0
  private len = 0
  private scanned: number

  constructor(private store: LineStore, { filter = 'all', cols = 0 }: { filter?: StreamFilter; cols?: number } = {}) {
    this.filter = filter
    this.cols = cols
    this.scanned = store.base
    this.sync()
  }

  /** identity: no arrays, row r is line base + r */
  get identity(): boolean {
    return this.filter === 'all' && this.cols <= 0
  }

  get rows(): number {
    if (this.identity) return this.store.size
    return this.cum[this.len] - this.cum[this.start]
  }

  get entries(): number {
    return this.identity ? this.store.size : this.len - this.start
  }

  /** Take in lines added (and drops, and an extended open line) since the last sync. */
  sync(extended: number[] = []): void {
    if (this.identity) return
    const { store } = this
    // drop entries whose lines left the store
    while (this.start < this.len && this.lines[this.start] < store.base) this.start++
    if (this.cols > 0) for (const line of extended) if (line < this.scanned) this.rewrap(line)
    for (let i = Math.max(this.scanned, store.base); i < store.end; i++) {
      if (this.filter !== 'all' && store.stream(i) !== (this.filter === 'stderr' ? STDERR : STDOUT)) continue
      this.push(i, lineRows(store, i, this.cols))
    }
    this.scanned = store.end
  }

  /** Entry k (0-based among shown lines) → absolute line index. */
  lineAt(k: number): number {
    return this.identity ? this.store.base + k : this.lines[this.start + k]
  }

  /** Rows before entry k. */
  rowOf(k: number): number {
    return this.identity ? k : this.cum[this.start + k] - this.cum[this.start]
  }

  rowsOf(k: number): number {
    return this.identity ? 1 : this.cum[this.start + k + 1] - this.cum[this.start + k]
  }

  /** The entry that contains row r (binary search over cum). */
  entryAtRow(r: number): number {
    if (this.identity) return r
    const base = this.cum[this.start]
    let lo = this.start
    let hi = this.len - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (this.cum[mid] - base <= r) lo = mid
      else hi = mid - 1
    }
    return lo - this.start
  }

  /** Entry showing absolute line i, or the nearest entry after it (-1 if none). */
  entryOfLine(i: number): number {
    if (this.identity) return i >= this.store.base && i < this.store.end ? i - this.store.base : -1
    let lo = this.start
    let hi = this.len
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (this.lines[mid] < i) lo = mid + 1
      else hi = mid
    }
    return lo < this.len ? lo - this.start : -1
  }

  private push(line: number, rows: number): void {
    if (this.len === this.lines.length) this.grow()
    this.lines[this.len] = line
    this.cum[this.len + 1] = this.cum[this.len] + rows
    this.len++
  }

  private grow(): void {
    const live = this.len - this.start
    const size = live * 2 > this.lines.length ? this.lines.length * 2 : this.lines.length
    const lines = new Int32Array(size)
    const cum = new Float64Array(size + 1)
    lines.set(this.lines.subarray(this.start, this.len))
    cum.set(this.cum.subarray(this.start, this.len + 1))
    this.lines = lines
    this.cum = cum
    this.len = live
    this.start = 0
  }

  private rewrap(line: number): void {
    const k = this.entryOfLine(line)
    if (k < 0 || this.lineAt(k) !== line) return
    const at = this.start + k
    const delta = lineRows(this.store, line, this.cols) - (this.cum[at + 1] - this.cum[at])
    if (delta === 0) return
    for (let j = at + 1; j <= this.len; j++) this.cum[j] += delta
  }
}
