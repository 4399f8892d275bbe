/**
 * LineStore: one attempt's log as lines, in compact parallel arrays (no object per line).
 *
 * The text stays in the chunk strings it arrived in ("blocks"); a line is a block index and two
 * offsets in typed arrays, plus a flag byte (stderr, still open). Lines live in segments of
 * 65,536. This keeps the JS heap to about the text itself plus 13 bytes a line, and the number
 * of heap objects to the number of chunks, so the garbage collector has little to trace even
 * with a million lines held (an earlier version with one string per line paused for up to
 * 100 ms in major GCs at 600k lines). A line's string is made only when it is shown.
 *
 * A chunk that ends without a newline leaves its stream's last line "open"; the next chunk of the
 * same stream continues it (stdout and stderr are joined separately, since their chunks
 * interleave). The joined line becomes a small block of its own. The master says which chunks
 * continue a line (`cont`, docs/logs.md): a continuation whose line is not held (the window starts
 * after it) is skipped, so line numbers stay the master's.
 *
 * The window can start anywhere (`startAt`): a log opened at its tail holds its last lines under
 * their absolute numbers.
 *
 * The buffer is bounded (`LOG_LINE_CAP` lines and `LOG_CHAR_BUDGET` characters, whichever is hit
 * first): past it the oldest whole segment is dropped, `base` moves forward and `dropped` tells the
 * viewer to show a notice. Line numbers stay absolute (line `i` is line `i + 1` of the attempt).
 */

export const STDOUT = 0
export const STDERR = 1
export type StreamName = 'stdout' | 'stderr'

/** Documented caps: 1,000,000 lines or 96 Mi characters held, whichever comes first. */
export const LOG_LINE_CAP = 1_000_000
export const LOG_CHAR_BUDGET = 96 * 1024 * 1024

const FLAG_STDERR = 1
const FLAG_OPEN = 2
/** the line's block is its own (a joined line): it can be replaced in place */
const FLAG_OWN = 4

interface Segment {
  blocks: string[]
  blockTs: number[]
  blk: Uint32Array
  start: Uint32Array
  end: Uint32Array
  flags: Uint8Array
  chars: number
}

function newSegment(size: number): Segment {
  return {
    blocks: [],
    blockTs: [],
    blk: new Uint32Array(size),
    start: new Uint32Array(size),
    end: new Uint32Array(size),
    flags: new Uint8Array(size),
    chars: 0,
  }
}

export interface AppendResult {
  /** lines added at the end */
  added: number
  /** an existing (open) line was extended; its absolute index, or -1 */
  extended: number
}

export interface LineStoreOptions {
  cap?: number
  charBudget?: number
  segBits?: number
}

export class LineStore {
  readonly cap: number
  readonly charBudget: number
  /** absolute index of the first line held; lines below it were dropped */
  base = 0
  /** absolute index one past the last line */
  end = 0
  /** characters in the lines held */
  chars = 0
  private segs: Segment[] = []
  private firstSeg = 0
  private open = [-1, -1]
  private readonly segBits: number
  private readonly segMask: number
  /** the block being appended and the segment it was registered in */
  private curBlock: string | null = null
  private curBlockSeg: Segment | null = null
  private curBlockIdx = 0

  /** `segBits` (segment size 2^segBits, the unit of dropping) is for tests; keep the default. */
  constructor({ cap = LOG_LINE_CAP, charBudget = LOG_CHAR_BUDGET, segBits = 16 }: LineStoreOptions = {}) {
    this.segBits = segBits
    this.segMask = (1 << segBits) - 1
    this.cap = Math.max(cap, 2 << segBits)
    this.charBudget = charBudget
  }

  get size(): number {
    return this.end - this.base
  }

  /** lines dropped from the front to stay within the caps */
  get dropped(): number {
    return this.base
  }

  clear(): void {
    this.segs = []
    this.firstSeg = 0
    this.base = this.end = this.chars = 0
    this.open = [-1, -1]
    this.curBlock = this.curBlockSeg = null
  }

  /** Empty the store and have its first line be line `line` (0-based) of the log. */
  startAt(line: number): void {
    this.clear()
    this.firstSeg = Math.floor(line / (this.segMask + 1))
    this.base = this.end = line
    this.segs.push(newSegment(this.segMask + 1))
  }

  /**
   * Add one chunk's text. `cont` (from the master): the chunk continues its stream's last line;
   * undefined: continue whatever line is open. Returns how many lines were added and which open
   * line was extended.
   */
  append(stream: number, data: string, ts: number, cont?: boolean): AppendResult {
    const result: AppendResult = { added: 0, extended: -1 }
    if (data.length === 0) return result
    let pos = 0
    let nl = data.indexOf('\n')
    const openIdx = cont === false ? -1 : this.open[stream]
    if (cont === true && !(openIdx >= this.base && openIdx >= 0)) {
      // the line it continues is not held: skip to the first line that starts here
      if (nl < 0) return result
      pos = nl + 1
      nl = data.indexOf('\n', pos)
    } else if (openIdx >= this.base && openIdx >= 0) {
      // continue the open line with the text up to the first newline (or all of it)
      const pieceEnd = nl < 0 ? data.length : nl
      const closed = nl >= 0
      let joined = this.text(openIdx) + data.slice(0, pieceEnd)
      if (closed && joined.charCodeAt(joined.length - 1) === 13) joined = joined.slice(0, -1)
      this.replaceLine(openIdx, joined, !closed)
      result.extended = openIdx
      if (!closed) {
        this.enforceCaps()
        return result
      }
      this.open[stream] = -1
      pos = nl + 1
      nl = data.indexOf('\n', pos)
    }
    if (cont === false) this.open[stream] = -1
    this.curBlock = data
    this.curBlockSeg = null
    while (nl >= 0) {
      const stop = nl > pos && data.charCodeAt(nl - 1) === 13 ? nl - 1 : nl
      this.pushLine(stream, data, pos, stop, ts, false)
      result.added++
      pos = nl + 1
      nl = data.indexOf('\n', pos)
    }
    if (pos < data.length) {
      this.open[stream] = this.pushLine(stream, data, pos, data.length, ts, true)
      result.added++
    } else this.open[stream] = -1
    this.curBlock = this.curBlockSeg = null
    this.enforceCaps()
    return result
  }

  text(i: number): string {
    const seg = this.seg(i)
    const k = i & this.segMask
    return seg.blocks[seg.blk[k]].slice(seg.start[k], seg.end[k])
  }

  /** characters in line i (escape sequences included) */
  length(i: number): number {
    const seg = this.seg(i)
    const k = i & this.segMask
    return seg.end[k] - seg.start[k]
  }

  /** whether line i holds an escape character (ANSI) */
  hasEscape(i: number): boolean {
    const seg = this.seg(i)
    const k = i & this.segMask
    const at = seg.blocks[seg.blk[k]].indexOf('\x1b', seg.start[k])
    return at >= 0 && at < seg.end[k]
  }

  stream(i: number): number {
    return this.seg(i).flags[i & this.segMask] & FLAG_STDERR ? STDERR : STDOUT
  }

  isOpen(i: number): boolean {
    return (this.seg(i).flags[i & this.segMask] & FLAG_OPEN) !== 0
  }

  ts(i: number): number {
    const seg = this.seg(i)
    return seg.blockTs[seg.blk[i & this.segMask]]
  }

  has(i: number): boolean {
    return i >= this.base && i < this.end
  }

  /**
   * Lines in [from, to) that contain a match of `re` (which must have the global flag), in order,
   * passed to `hit`. Runs the pattern over whole blocks rather than line by line, so no string is
   * made per line. Stops early when `deadline` (performance.now()) passes; returns where it
   * stopped (to resume from), or `to` when done.
   */
  search(re: RegExp, from: number, to: number, hit: (line: number) => void, deadline = Infinity): number {
    let i = Math.max(from, this.base)
    const last = Math.min(to, this.end)
    while (i < last) {
      const seg = this.seg(i)
      const segEnd = Math.min(last, ((i >> this.segBits) + 1) << this.segBits)
      // a run of lines [i, j) in the same block
      const b = seg.blk[i & this.segMask]
      let j = i + 1
      while (j < segEnd && seg.blk[j & this.segMask] === b) j++
      const block = seg.blocks[b]
      const runEnd = seg.end[(j - 1) & this.segMask]
      let line = i
      re.lastIndex = seg.start[i & this.segMask]
      for (let m = re.exec(block); m && m.index < runEnd; m = re.exec(block)) {
        while (line < j && seg.end[line & this.segMask] < m.index + m[0].length) line++
        if (line >= j) break
        if (m.index >= seg.start[line & this.segMask]) {
          hit(line)
          line++
          if (line >= j) break
          re.lastIndex = seg.start[line & this.segMask]
        } else if (m[0].length === 0) re.lastIndex++
      }
      i = j
      if (performance.now() > deadline) return i
    }
    return last
  }

  private seg(i: number): Segment {
    return this.segs[(i >> this.segBits) - this.firstSeg]
  }

  private pushLine(stream: number, block: string, start: number, end: number, ts: number, open: boolean): number {
    const index = this.end
    const k = index & this.segMask
    if (k === 0 && this.segs.length <= (index >> this.segBits) - this.firstSeg) this.segs.push(newSegment(this.segMask + 1))
    const seg = this.segs[this.segs.length - 1]
    if (this.curBlockSeg !== seg || this.curBlock !== block) {
      seg.blocks.push(block)
      seg.blockTs.push(ts)
      this.curBlockSeg = seg
      this.curBlock = block
      this.curBlockIdx = seg.blocks.length - 1
    }
    seg.blk[k] = this.curBlockIdx
    seg.start[k] = start
    seg.end[k] = end
    seg.flags[k] = (stream === STDERR ? FLAG_STDERR : 0) | (open ? FLAG_OPEN : 0)
    seg.chars += end - start
    this.chars += end - start
    this.end++
    return index
  }

  /** Give line i new text (a block of its own), keeping its timestamp. */
  private replaceLine(i: number, text: string, open: boolean): void {
    const seg = this.seg(i)
    const k = i & this.segMask
    const grew = text.length - (seg.end[k] - seg.start[k])
    if (seg.flags[k] & FLAG_OWN) seg.blocks[seg.blk[k]] = text
    else {
      seg.blocks.push(text)
      seg.blockTs.push(seg.blockTs[seg.blk[k]])
      seg.blk[k] = seg.blocks.length - 1
      seg.flags[k] |= FLAG_OWN
    }
    seg.start[k] = 0
    seg.end[k] = text.length
    if (open) seg.flags[k] |= FLAG_OPEN
    else seg.flags[k] &= ~FLAG_OPEN
    seg.chars += grew
    this.chars += grew
  }

  private enforceCaps(): void {
    while (this.segs.length > 1 && (this.size > this.cap || this.chars > this.charBudget)) {
      const gone = this.segs.shift() as Segment
      this.firstSeg++
      this.chars -= gone.chars
      this.base = this.firstSeg << this.segBits
      if (this.curBlockSeg === gone) this.curBlockSeg = null
    }
  }
}
