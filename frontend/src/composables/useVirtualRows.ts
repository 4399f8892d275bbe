/**
 * useVirtualRows: the thin Vue adapter over `lib/virtualScroll.ts` (the framework-free core),
 * as TanStack's vue-virtual is over virtual-core. It measures the scroller (a ResizeObserver,
 * never a forced layout while mounting), tracks its scroll position, and answers which entries
 * are in view and where, for a fixed row height and any number of rows (scaled scrolling past
 * the browser's element-height limit, with wheel steps scaled back to about three rows).
 */

import { computed, onBeforeUnmount, onMounted, ref, type Ref } from 'vue'
import { itemsInView, scrollScale, scrollTopFor, spacerHeight, virtualTop, type Geometry, type RowIndex } from '../lib/virtualScroll'

export interface VirtualRowsOptions {
  /** the current index (read whenever `version` changes) */
  index: () => RowIndex
  /** bump when the index changed (rows added, rebuilt) */
  version: Ref<number>
  rowHeight: number
  overscan?: number
  /** an element holding `chars` monospace characters: its width gives the character width */
  probe?: { el: Ref<HTMLElement | null>; chars: number; fallback?: number }
  /** after a size change was measured */
  onResize?: () => void
}

export function useVirtualRows(scroller: Ref<HTMLElement | null>, options: VirtualRowsOptions) {
  const { rowHeight } = options
  const overscan = options.overscan ?? 6
  const viewportH = ref(0)
  const viewportW = ref(0)
  const scrollTop = ref(0)
  const charW = ref(options.probe?.fallback ?? 7.8)

  const geometry = computed<Geometry>(() => {
    void options.version.value
    return { rows: options.index().rows, rowHeight, viewport: viewportH.value }
  })
  /** the spacer below the sticky layer (the layer itself is one viewport high) */
  const spacer = computed(() => Math.max(0, spacerHeight(geometry.value) - viewportH.value))
  const scale = computed(() => scrollScale(geometry.value))
  const items = computed(() => {
    void options.version.value
    return itemsInView(options.index(), geometry.value, scrollTop.value, overscan)
  })

  /** Read the scroller's position (after a scroll event or a programmatic scroll). */
  function syncScroll(): void {
    if (scroller.value) scrollTop.value = scroller.value.scrollTop
  }

  /** The entry at the top of the view, or -1. */
  function topEntry(): number {
    const index = options.index()
    const k = index.entryAtRow(Math.floor(virtualTop(geometry.value, scrollTop.value) / rowHeight))
    return k >= 0 && k < index.entries ? k : -1
  }

  /** Scroll so entry `k` is at the top or the centre of the view. */
  function scrollToEntry(k: number, where: 'top' | 'center' = 'center'): void {
    const el = scroller.value
    if (!el) return
    const y = options.index().rowOf(k) * rowHeight - (where === 'center' ? viewportH.value / 2 - rowHeight : 0)
    el.scrollTop = scrollTopFor(geometry.value, y)
    scrollTop.value = el.scrollTop
  }

  /** Render the bottom now (following): no scroll event needed to draw the newest rows. */
  function showBottom(): void {
    scrollTop.value = scrollTopFor(geometry.value, Infinity)
  }

  // Past the element-height cap one scroll pixel is several content pixels: scale wheel steps
  // back so a notch still moves about three rows.
  function onWheel(ev: WheelEvent): void {
    const el = scroller.value
    if (!el || scale.value <= 1.01 || Math.abs(ev.deltaY) < Math.abs(ev.deltaX)) return
    ev.preventDefault()
    const dy = ev.deltaMode === 1 ? ev.deltaY * rowHeight : ev.deltaMode === 2 ? ev.deltaY * viewportH.value : ev.deltaY
    el.scrollTop += dy / scale.value
  }

  function measure(el: HTMLElement): void {
    viewportH.value = el.clientHeight
    viewportW.value = el.clientWidth
  }

  function measureChar(width: number): void {
    if (width > 0 && options.probe) charW.value = width / options.probe.chars
  }

  let observer: ResizeObserver | null = null
  const mounted = ref(false)

  onMounted(() => {
    const el = scroller.value
    if (!el) return
    el.addEventListener('wheel', onWheel, { passive: false })
    mounted.value = true
    const probe = options.probe?.el.value ?? null
    if (typeof ResizeObserver === 'undefined') {
      if (probe) measureChar(probe.getBoundingClientRect().width)
      measure(el)
      options.onResize?.()
      return
    }
    // Sizes are read when the browser has laid the page out anyway (a ResizeObserver reports
    // after layout, before paint), not forced while the page mounts: a forced layout here would
    // hold the main thread while the first rows wait to be handled.
    observer = new ResizeObserver((entries) => {
      for (const entry of entries) {
        if (entry.target === probe) measureChar(entry.contentRect.width)
        else measure(el)
      }
      options.onResize?.()
    })
    observer.observe(el)
    if (probe) observer.observe(probe)
  })

  onBeforeUnmount(() => {
    observer?.disconnect()
    scroller.value?.removeEventListener('wheel', onWheel)
  })

  return { viewportH, viewportW, scrollTop, charW, geometry, spacer, scale, items, mounted, syncScroll, topEntry, scrollToEntry, showBottom }
}

export type VirtualRows = ReturnType<typeof useVirtualRows>
