/**
 * useLogSearch: find a string in every line held (case-insensitive), with next/previous.
 *
 * The pattern runs over the store's chunk blocks (no string per line). The first scan of a large
 * buffer is cut into slices of a few milliseconds each (yielding to the browser between them),
 * so searching a million lines never blocks a frame; lines that
 * arrive afterwards are scanned as they are flushed. Matches are absolute line indices in a
 * growable Int32Array.
 */

import { getCurrentScope, onScopeDispose, ref, shallowRef, watch, type Ref } from 'vue'
import type { LogBuffer } from './useLogBuffer'

export interface SearchOptions {
  /** lines to consider (e.g. the stream filter); all when absent */
  accept?: Ref<((line: number) => boolean) | null>
  sliceMs?: number
  defer?: (fn: () => void) => void
  debounceMs?: number
  /** called once per new query with the line of its first hit (to show it) */
  onFirstHit?: (line: number) => void
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

export function useLogSearch(buffer: LogBuffer, options: SearchOptions = {}) {
  const sliceMs = options.sliceMs ?? 6
  const defer = options.defer ?? ((fn: () => void) => setTimeout(fn, 0))
  const query = ref('')
  const count = ref(0)
  /** index into the matches of the current hit, -1 for none */
  const current = ref(-1)
  const searching = ref(false)
  const version = shallowRef(0)
  let matches = new Int32Array(256)
  let start = 0
  let len = 0
  let scanned = 0
  let pattern: RegExp | null = null
  let run = 0

  function add(line: number): void {
    if (len === matches.length) {
      const live = len - start
      const next = new Int32Array(live * 2 > matches.length ? matches.length * 2 : matches.length)
      next.set(matches.subarray(start, len))
      matches = next
      len = live
      start = 0
    }
    matches[len++] = line
  }

  function dropBelow(base: number): void {
    while (start < len && matches[start] < base) {
      start++
      if (current.value > 0) current.value--
    }
  }

  function scan(to: number, deadline: number): boolean {
    const { store } = buffer
    const accept = options.accept?.value ?? null
    scanned = Math.max(scanned, store.base)
    scanned = store.search(pattern as RegExp, scanned, to, (i) => (!accept || accept(i)) && add(i), deadline)
    return scanned >= to
  }

  function publish(): void {
    count.value = len - start
    if (current.value >= count.value) current.value = count.value - 1
    version.value++
  }

  function restart(): void {
    run++
    start = len = 0
    scanned = buffer.store.base
    current.value = -1
    pattern = query.value ? new RegExp(escapeRegExp(query.value), 'gi') : null
    if (!pattern) {
      searching.value = false
      publish()
      return
    }
    searching.value = true
    const mine = run
    const step = () => {
      if (mine !== run) return
      const done = scan(buffer.store.end, performance.now() + sliceMs)
      publish()
      if (current.value < 0 && count.value > 0) {
        current.value = 0
        options.onFirstHit?.(currentLine())
      }
      if (done) searching.value = false
      else defer(step)
    }
    step()
  }

  const stopFlush = buffer.onFlush(() => {
    if (!pattern) return
    if (buffer.store.base === 0 && buffer.store.end < scanned) {
      restart() // the buffer was reset (new attempt)
      return
    }
    dropBelow(buffer.store.base)
    if (!searching.value) {
      scan(buffer.store.end, Infinity)
      publish()
      if (current.value < 0 && count.value > 0) {
        current.value = 0
        options.onFirstHit?.(currentLine())
      }
    }
  })
  if (getCurrentScope()) onScopeDispose(stopFlush)

  let timer: ReturnType<typeof setTimeout> | null = null
  watch(query, () => {
    if (timer) clearTimeout(timer)
    const ms = options.debounceMs ?? 120
    if (ms <= 0) restart()
    else timer = setTimeout(restart, ms)
  })
  if (options.accept) watch(options.accept, () => pattern && restart())

  /** Absolute line index of the current hit, or -1. */
  function currentLine(): number {
    return current.value >= 0 && current.value < count.value ? matches[start + current.value] : -1
  }

  function step(by: number): number {
    if (count.value === 0) return -1
    current.value = (((current.value < 0 ? (by > 0 ? -1 : 0) : current.value) + by) % count.value + count.value) % count.value
    return currentLine()
  }

  /** Hits within [from, to) lines, for highlighting rows without a per-line lookup. */
  function isMatch(line: number): boolean {
    let lo = start
    let hi = len
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (matches[mid] < line) lo = mid + 1
      else hi = mid
    }
    return lo < len && matches[lo] === line
  }

  return {
    query,
    count,
    current,
    searching,
    version,
    next: () => step(1),
    prev: () => step(-1),
    currentLine,
    isMatch,
    restart,
  }
}

export type LogSearch = ReturnType<typeof useLogSearch>
