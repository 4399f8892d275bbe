/**
 * useLogRows: what the log viewer draws. It keeps a `RowModel` over the buffer's lines (stream
 * filter, wrapping into fixed-height rows) in step with the buffer's flushes, and turns the
 * entries in view (`useVirtualRows`) into rows ready to render: line number, position, ANSI
 * spans with search marks, timestamp. It also keeps the view where the reader expects it: at the
 * bottom while following, on the same top line across a filter or wrap change.
 */

import { applyCarriageReturns } from '../lib/carriage'
import { computed, markRaw, nextTick, onBeforeUnmount, onMounted, shallowRef, watch, type Ref } from 'vue'
import { markMatches, parseAnsi, type MarkedSpan } from '../lib/ansi'
import { fmtLogTs } from '../lib/format'
import { STDERR } from '../lib/lineStore'
import { RowModel, type StreamFilter } from '../lib/rowModel'
import type { LogBuffer } from './useLogBuffer'
import type { FollowScroll } from './useFollowScroll'
import type { LogSearch } from './useLogSearch'
import { useVirtualRows } from './useVirtualRows'

export const LOG_ROW_HEIGHT = 18
const OVERSCAN = 6
const PAD_X = 12
const PROBE_CHARS = 100

export interface LogRow {
  line: number
  y: number
  h: number
  stderr: boolean
  ts: string
  spans: MarkedSpan[]
  hit: boolean
}

export interface LogRowsOptions {
  scroller: Ref<HTMLElement | null>
  /** a span of PROBE_CHARS monospace characters, for the character width */
  probe: Ref<HTMLElement | null>
  filter: Ref<StreamFilter>
  wrap: Ref<boolean>
  showTs: Ref<boolean>
  follow: FollowScroll
  search: LogSearch
}

export function useLogRows(buffer: LogBuffer, options: LogRowsOptions) {
  const { filter, wrap, showTs, follow, search } = options
  const store = buffer.store
  let model = markRaw(new RowModel(store, { filter: filter.value }))
  let shownEntries = model.entries
  const modelVersion = shallowRef(0)

  const virt = useVirtualRows(options.scroller, {
    index: () => model,
    version: modelVersion,
    rowHeight: LOG_ROW_HEIGHT,
    overscan: OVERSCAN,
    probe: { el: options.probe, chars: PROBE_CHARS },
    onResize: () => {
      if (follow.following.value) nextTick(() => {
        follow.scrollToBottom()
        virt.syncScroll()
      })
    },
  })

  const digits = computed(() => {
    void buffer.version.value
    return Math.max(4, String(store.end).length)
  })
  const gutterW = computed(() => digits.value * virt.charW.value + 16)
  const tsW = computed(() => (showTs.value ? 13 * virt.charW.value : 0))
  const cols = computed(() =>
    wrap.value ? Math.max(16, Math.floor((virt.viewportW.value - gutterW.value - tsW.value - PAD_X * 2 - 12) / virt.charW.value)) : 0,
  )

  function topLine(): number {
    const k = virt.topEntry()
    return k >= 0 ? model.lineAt(k) : -1
  }

  function rebuild(): void {
    // keep the line at the top of the view in place across a filter or wrap change
    const anchor = model.rows > 0 ? topLine() : -1
    model = markRaw(new RowModel(store, { filter: filter.value, cols: cols.value }))
    shownEntries = model.entries
    modelVersion.value++
    nextTick(() => {
      if (follow.following.value) follow.scrollToBottom()
      else if (anchor >= 0) scrollToLine(anchor, 'top')
      virt.syncScroll()
    })
  }
  watch([filter, cols], rebuild)

  let lastBase = store.base
  const stopFlush = buffer.onFlush(({ extended }) => {
    const prepended = store.size > 0 && store.base < lastBase
    lastBase = store.base
    if (prepended) {
      // older lines went in front: the viewer keeps its place (it anchored before loading)
      model = markRaw(new RowModel(store, { filter: filter.value, cols: cols.value }))
      model.sync()
      shownEntries = model.entries
      modelVersion.value++
      return
    }
    if (store.size === 0) {
      // a reset: start over if lines were shown; an empty buffer reset again (the log socket's
      // status frame does that before any line) changes nothing, and scrolling would force a
      // layout of the page while the first lines wait
      if (model.entries !== 0) rebuild()
      return
    }
    model.sync(extended)
    modelVersion.value++
    // Following: render the rows at the new bottom straight away (scrolling there after the
    // render would draw the old position first, then again at the bottom).
    if (follow.following.value) virt.showBottom()
    // the store already holds the new lines when this runs: count against what was shown
    const added = Math.max(0, model.entries - shownEntries)
    shownEntries = model.entries
    nextTick(() => {
      follow.notify(added)
      virt.syncScroll()
    })
  })

  onMounted(() => {
    model.sync()
    modelVersion.value++
    if (typeof ResizeObserver === 'undefined') nextTick(() => {
      follow.scrollToBottom()
      virt.syncScroll()
    })
  })
  onBeforeUnmount(stopFlush)

  const rows = computed<LogRow[]>(() => {
    void buffer.version.value
    void search.version.value
    const needle = search.query.value
    const hitLine = search.currentLine()
    return virt.items.value.filter(({ index: k }) => store.has(model.lineAt(k))).map(({ index: k, y, h }) => {
      const line = model.lineAt(k)
      const spans = parseAnsi(applyCarriageReturns(store.text(line)))
      return {
        line,
        y,
        h,
        stderr: store.stream(line) === STDERR,
        ts: showTs.value ? fmtLogTs(store.ts(line)) : '',
        spans: needle && search.isMatch(line) ? markMatches(spans, needle) : (spans as MarkedSpan[]),
        hit: line === hitLine,
      }
    })
  })

  /** Width of the widest row in view (horizontal scrolling without wrap); 0 when wrapping. */
  const contentW = computed(() => {
    if (wrap.value) return 0
    let longest = 0
    for (const r of rows.value) {
      let len = 0
      for (const s of r.spans) len += s.text.length
      longest = Math.max(longest, len)
    }
    return gutterW.value + tsW.value + PAD_X * 2 + longest * virt.charW.value
  })

  /** Scroll to an absolute line (or the last one shown when it is filtered out or not there). */
  function scrollToLine(line: number, where: 'top' | 'center' = 'center'): void {
    let k = model.entryOfLine(line)
    if (k < 0) k = model.entries - 1
    if (k >= 0) virt.scrollToEntry(k, where)
  }

  return {
    rows, contentW, gutterW, tsW, spacer: virt.spacer, viewportH: virt.viewportH,
    syncScroll: virt.syncScroll, scrollToLine, topLine, rebuild,
  }
}
