/**
 * Sequence bookkeeping for one attempt's log: drops duplicates (seq already held), holds chunks
 * that arrive ahead of a gap until the gap is filled, and knows where to resume (`last`).
 */

export interface SeqChunk {
  attempt: number
  seq: number
}

export class SeqTracker<C extends SeqChunk = SeqChunk> {
  attempt: number
  /** highest seq applied in order; -1 before the first */
  last = -1
  private ahead = new Map<number, C>()

  constructor(attempt = 0, after = -1) {
    this.attempt = attempt
    this.last = after
  }

  reset(attempt: number, after = -1): void {
    this.attempt = attempt
    this.last = after
    this.ahead.clear()
  }

  /** Chunks now ready, in seq order (empty for a duplicate, another attempt, or a chunk past a gap). */
  accept(chunk: C): C[] {
    if (chunk.attempt !== this.attempt || chunk.seq <= this.last || this.ahead.has(chunk.seq)) return []
    if (chunk.seq > this.last + 1) {
      this.ahead.set(chunk.seq, chunk)
      return []
    }
    const ready = [chunk]
    this.last = chunk.seq
    for (let next = this.ahead.get(this.last + 1); next; next = this.ahead.get(this.last + 1)) {
      this.ahead.delete(next.seq)
      ready.push(next)
      this.last = next.seq
    }
    return ready
  }

  /** True while chunks wait behind a missing seq (fill it from `after=last`). */
  get hasGap(): boolean {
    return this.ahead.size > 0
  }

  /** first seq held past the gap, for "fetch after=last up to here" */
  get gapEnd(): number {
    let min = Infinity
    for (const seq of this.ahead.keys()) min = Math.min(min, seq)
    return min
  }
}
