/**
 * LineStore: one attempt's log as lines, in compact parallel arrays (no object per line).
 *
 * Lines live in segments of 65,536: a string array for the text, a byte per line for flags
 * (stderr, still open) and a Float64 per line for the chunk timestamp. Each chunk is split into
 * lines once, on arrival; a chunk that ends without a newline leaves its stream's last line
 * "open", and the next chunk of the same stream continues it (stdout and stderr are joined
 * separately, since their chunks interleave).
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

interface Segment {
  text: string[]
  flags: Uint8Array
  ts: Float64Array
  chars: number
}

function newSegment(size: number): Segment {
  return { text: [], flags: new Uint8Array(size), ts: new Float64Array(size), chars: 0 }
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
  chars = 0
  private segs: Segment[] = []
  private firstSeg = 0
  private open = [-1, -1]

  private readonly segBits: number
  private readonly segMask: number

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
  }

  /** Add one chunk's text. Returns how many lines were added and which open line was extended. */
  append(stream: number, data: string, ts: number): AppendResult {
    const result: AppendResult = { added: 0, extended: -1 }
    if (data.length === 0) return result
    const parts = data.split('\n')
    const last = parts.length - 1
    let first = 0
    const openIdx = this.open[stream]
    if (openIdx >= this.base && openIdx >= 0) {
      const seg = this.seg(openIdx)
      const k = openIdx & this.segMask
      const piece = stripCR(parts[0], last > 0)
      let joined = seg.text[k] + piece
      if (last > 0) {
        joined = stripCR(joined, true) // a CR split from its LF by the chunk boundary
        seg.flags[k] &= ~FLAG_OPEN
      }
      const grew = joined.length - seg.text[k].length
      seg.text[k] = joined
      seg.chars += grew
      this.chars += grew
      result.extended = openIdx
      first = 1
      this.open[stream] = last > 0 ? -1 : openIdx
    }
    for (let p = first; p <= last; p++) {
      const isLast = p === last
      const text = parts[p]
      if (isLast && text.length === 0) {
        this.open[stream] = -1
        break
      }
      const index = this.pushLine(stream, stripCR(text, !isLast), ts, isLast)
      if (isLast) this.open[stream] = index
      result.added++
    }
    this.enforceCaps()
    return result
  }

  text(i: number): string {
    return this.seg(i).text[i & this.segMask]
  }

  stream(i: number): number {
    return this.seg(i).flags[i & this.segMask] & FLAG_STDERR ? STDERR : STDOUT
  }

  isOpen(i: number): boolean {
    return (this.seg(i).flags[i & this.segMask] & FLAG_OPEN) !== 0
  }

  ts(i: number): number {
    return this.seg(i).ts[i & this.segMask]
  }

  has(i: number): boolean {
    return i >= this.base && i < this.end
  }

  private seg(i: number): Segment {
    return this.segs[(i >> this.segBits) - this.firstSeg]
  }

  private pushLine(stream: number, text: string, ts: number, open: boolean): number {
    const index = this.end
    const k = index & this.segMask
    if (k === 0) this.segs.push(newSegment(this.segMask + 1))
    const seg = this.segs[this.segs.length - 1]
    seg.text[k] = text
    seg.flags[k] = (stream === STDERR ? FLAG_STDERR : 0) | (open ? FLAG_OPEN : 0)
    seg.ts[k] = ts
    seg.chars += text.length
    this.chars += text.length
    this.end++
    return index
  }

  private enforceCaps(): void {
    while (this.segs.length > 1 && (this.size > this.cap || this.chars > this.charBudget)) {
      const gone = this.segs.shift() as Segment
      this.firstSeg++
      this.chars -= gone.chars
      this.base = this.firstSeg << this.segBits
    }
  }
}

function stripCR(text: string, terminated: boolean): string {
  return terminated && text.charCodeAt(text.length - 1) === 13 ? text.slice(0, -1) : text
}
