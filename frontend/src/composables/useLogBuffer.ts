/**
 * useLogBuffer: incoming log chunks → a LineStore, applied at most once per animation frame.
 *
 * `push` is cheap (dedup and ordering by seq, then a queue); the queue is drained in a
 * requestAnimationFrame callback within a time budget, so a burst of chunks never turns into
 * a long task: what does not fit in the budget waits for the next frame. Each drain bumps
 * `version` once, which is all the viewer watches.
 *
 * The one exception is the first chunk into an empty buffer: it is applied at once, so the
 * first lines of a log are painted in the frame after they arrive instead of one frame later
 * (one chunk is at most 64 KiB: a couple of milliseconds, never a long task).
 *
 * The window can start anywhere in the log: the first chunk into an empty buffer sets where (its
 * `line`, the master's numbering), so a log opened at its tail shows its real line numbers.
 * `prepend` puts an older page in front (scrolling up); the chunks held are kept for that.
 */

import { markRaw, ref, shallowRef } from 'vue'
import { LineStore, STDERR, STDOUT, type LineStoreOptions } from '../lib/lineStore'
import { SeqTracker } from '../lib/seq'

export interface LogChunk {
  attempt: number
  seq: number
  stream: 'stdout' | 'stderr'
  data: string
  ts: number
  /** 0-based number of the first line that starts in this chunk (docs/logs.md) */
  line?: number
  /** lines that start in it */
  lines?: number
  /** continues its stream's last line */
  cont?: boolean
}

/** A log frame kept as its JSON text until the flush: only attempt and seq are read on arrival. */
interface RawChunk {
  attempt: number
  seq: number
  raw: string
}

type Queued = LogChunk | RawChunk

// The head of the master's log frame, `{"type": "log", "attempt": A, "seq": S, ...}`.
const FRAME_HEAD = /^\{"type": ?"log", ?"attempt": ?(\d+), ?"seq": ?(\d+),/

export interface FlushResult {
  added: number
  /** open lines that were continued during this flush */
  extended: number[]
}

export interface LogBufferOptions extends LineStoreOptions {
  raf?: (cb: FrameRequestCallback) => number
  cancelRaf?: (handle: number) => void
  now?: () => number
  /** milliseconds of work per frame before the rest waits for the next frame */
  budgetMs?: number
  /**
   * Drain from a timer when no animation frame came within this many ms (a hidden tab gets no
   * frames): the queue never grows past the store's cap unseen.
   */
  fallbackMs?: number
}

export function useLogBuffer(options: LogBufferOptions = {}) {
  const raf = options.raf ?? ((cb: FrameRequestCallback) => requestAnimationFrame(cb))
  const cancelRaf = options.cancelRaf ?? ((h: number) => cancelAnimationFrame(h))
  const now = options.now ?? (() => performance.now())
  const budgetMs = options.budgetMs ?? 8
  const fallbackMs = options.fallbackMs ?? 500

  const store = markRaw(new LineStore(options))
  const tracker = new SeqTracker<Queued>()
  const version = shallowRef(0)
  const lines = ref(0)
  const dropped = ref(0)
  const attempt = ref(0)
  const flushes = ref(0)
  const listeners = new Set<(result: FlushResult) => void>()
  /** the chunks applied, oldest first (for `prepend`); trimmed as the store drops lines */
  let held: LogChunk[] = []
  let queue: Queued[] = []
  let head = 0
  let frame: number | null = null
  let fallback: ReturnType<typeof setTimeout> | null = null

  function schedule(): void {
    if (frame !== null || head >= queue.length) return
    if (store.size === 0) {
      flush()
      return
    }
    frame = raf(flush)
    fallback ??= setTimeout(() => {
      fallback = null
      if (frame === null) return
      cancelRaf(frame)
      flush()
    }, fallbackMs)
  }

  function clearFallback(): void {
    if (fallback !== null) clearTimeout(fallback)
    fallback = null
  }

  /** Accept a chunk (duplicates and other attempts are ignored). True when it was queued. */
  function push(chunk: LogChunk): boolean {
    const ready = tracker.accept(chunk)
    if (ready.length === 0) return false
    for (const c of ready) queue.push(c)
    schedule()
    return true
  }

  /**
   * Accept a log frame as the socket delivered it (JSON text). Parsing waits for the flush, so a
   * burst of frames (a long history) costs the socket handler next to nothing and the first lines
   * paint sooner. A frame whose head does not look as expected is parsed at once.
   */
  function pushFrame(text: string): boolean {
    const m = FRAME_HEAD.exec(text)
    if (!m) {
      const frame = JSON.parse(text) as LogChunk & { type?: string }
      return frame.type === 'log' ? push(frame) : false
    }
    const ready = tracker.accept({ attempt: Number(m[1]), seq: Number(m[2]), raw: text })
    if (ready.length === 0) return false
    for (const c of ready) queue.push(c)
    schedule()
    return true
  }

  /** Apply queued chunks (called by the animation frame; callable directly). */
  function flush(): FlushResult {
    frame = null
    clearFallback()
    const result: FlushResult = { added: 0, extended: [] }
    if (head >= queue.length) return result
    const started = now()
    while (head < queue.length) {
      const q = queue[head++]
      const c = 'raw' in q ? (JSON.parse(q.raw) as LogChunk) : q
      if (store.size === 0 && store.end === 0 && (c.line ?? 0) > 0) store.startAt(c.line as number)
      const r = store.append(c.stream === 'stderr' ? STDERR : STDOUT, c.data, c.ts, c.cont)
      held.push(c)
      result.added += r.added
      if (r.extended >= 0 && !result.extended.includes(r.extended)) result.extended.push(r.extended)
      if (now() - started >= budgetMs) break
    }
    if (head >= queue.length) {
      queue = []
      head = 0
    } else if (head > 4096) {
      queue = queue.slice(head)
      head = 0
    }
    trimHeld()
    lines.value = store.size
    dropped.value = store.dropped
    flushes.value++
    version.value++
    for (const fn of listeners) fn(result)
    schedule()
    return result
  }

  function trimHeld(): void {
    let drop = 0
    while (drop + 1 < held.length && (held[drop + 1].line ?? 0) <= store.base) drop++
    if (drop > 1024) held = held.slice(drop)
  }

  /**
   * Put older chunks (oldest first, ending just before the first held) in front: the window is
   * rebuilt from them and the chunks held. False when they would not fit in the store's caps.
   */
  function prepend(older: LogChunk[]): boolean {
    if (older.length === 0) return false
    flushAll()
    const all = [...older, ...held]
    const lineCount = all.reduce((sum, c) => sum + (c.lines ?? 0), 0)
    const chars = all.reduce((sum, c) => sum + c.data.length, 0)
    if (lineCount > store.cap || chars > store.charBudget) return false
    store.startAt(older[0].line ?? 0)
    for (const c of all) store.append(c.stream === 'stderr' ? STDERR : STDOUT, c.data, c.ts, c.cont)
    held = all
    lines.value = store.size
    dropped.value = store.dropped
    version.value++
    for (const fn of listeners) fn({ added: 0, extended: [] })
    return true
  }

  /** Apply everything queued now (whatever the frame budget). */
  function flushAll(): void {
    while (head < queue.length) flush()
  }

  /** seq of the oldest chunk held (-1 when none) */
  function firstSeq(): number {
    return held.length ? held[0].seq : -1
  }

  /** Start over for an attempt, optionally resuming after a seq already held elsewhere. */
  function reset(nextAttempt: number, after = -1): void {
    if (frame !== null) cancelRaf(frame)
    frame = null
    clearFallback()
    queue = []
    head = 0
    store.clear()
    held = []
    tracker.reset(nextAttempt, after)
    attempt.value = nextAttempt
    lines.value = 0
    dropped.value = 0
    version.value++
    for (const fn of listeners) fn({ added: 0, extended: [] })
  }

  function onFlush(fn: (result: FlushResult) => void): () => void {
    listeners.add(fn)
    return () => listeners.delete(fn)
  }

  function dispose(): void {
    if (frame !== null) cancelRaf(frame)
    frame = null
    clearFallback()
    listeners.clear()
  }

  return {
    store,
    version,
    lines,
    dropped,
    attempt,
    flushes,
    push,
    pushFrame,
    flush,
    flushAll,
    prepend,
    firstSeq,
    reset,
    onFlush,
    dispose,
    /** highest seq accepted (queued or applied): resume with `after=lastSeq()` */
    lastSeq: () => tracker.last,
    hasGap: () => tracker.hasGap,
    pending: () => queue.length - head,
  }
}

export type LogBuffer = ReturnType<typeof useLogBuffer>
