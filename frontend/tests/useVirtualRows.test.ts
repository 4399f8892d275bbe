import { describe, expect, it } from 'vitest'
import { mount } from '@vue/test-utils'
import { defineComponent, h, nextTick, ref, shallowRef } from 'vue'
import { useVirtualRows } from '../src/composables/useVirtualRows'
import type { RowIndex } from '../src/lib/virtualScroll'

function fixedIndex(n: number): RowIndex {
  return { entries: n, rows: n, rowOf: (k) => k, rowsOf: () => 1, entryAtRow: (r) => Math.min(r, n) }
}

/** A host component; jsdom has no layout or ResizeObserver, so sizes come from stubbed properties. */
function host(count: number, { height = 100, width = 300 } = {}) {
  let api!: ReturnType<typeof useVirtualRows>
  const idx = shallowRef(fixedIndex(count))
  const version = ref(0)
  const Comp = defineComponent({
    setup() {
      const scroller = ref<HTMLElement | null>(null)
      api = useVirtualRows(scroller, { index: () => idx.value, version, rowHeight: 10, overscan: 0 })
      return () => h('div', { ref: scroller, 'data-testid': 's' })
    },
  })
  const el = document.createElement('div')
  document.body.appendChild(el)
  let top = 0
  Object.defineProperty(HTMLElement.prototype, 'clientHeight', { configurable: true, get: () => height })
  Object.defineProperty(HTMLElement.prototype, 'clientWidth', { configurable: true, get: () => width })
  const wrapper = mount(Comp, { attachTo: el })
  const scroller = wrapper.find('[data-testid=s]').element as HTMLElement
  Object.defineProperty(scroller, 'scrollTop', { configurable: true, get: () => top, set: (v) => (top = v) })
  return { api: () => api, wrapper, scroller, setIndex: (n: number) => ((idx.value = fixedIndex(n)), version.value++) }
}

describe('useVirtualRows', () => {
  it('measures the viewport on mount and lists only the rows in view', async () => {
    const { api } = host(1000)
    await nextTick()
    const v = api()
    expect(v.viewportH.value).toBe(100)
    expect(v.items.value.map((i) => i.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    expect(v.spacer.value).toBe(1000 * 10 - 100)
  })

  it('follows the scroll position and scrolls to an entry', async () => {
    const { api, scroller } = host(1000)
    await nextTick()
    const v = api()
    scroller.scrollTop = 500
    v.syncScroll()
    expect(v.items.value[0]).toEqual({ index: 50, y: 0, h: 10 })
    expect(v.topEntry()).toBe(50)
    v.scrollToEntry(700, 'top')
    expect(scroller.scrollTop).toBe(7000)
    expect(v.items.value[0].index).toBe(700)
    v.scrollToEntry(300, 'center')
    expect(v.items.value.some((i) => i.index === 300 && i.y > 30 && i.y < 60)).toBe(true)
  })

  it('renders the bottom at once with showBottom, and recomputes when the index grows', async () => {
    const { api, setIndex } = host(100)
    await nextTick()
    const v = api()
    v.showBottom()
    expect(v.items.value[v.items.value.length - 1].index).toBe(99)
    setIndex(200)
    v.showBottom()
    expect(v.items.value[v.items.value.length - 1].index).toBe(199)
    expect(v.spacer.value).toBe(2000 - 100)
  })

  it('scales wheel steps past the element-height cap', async () => {
    const { api, scroller } = host(2_000_000)
    await nextTick()
    expect(api().scale.value).toBeGreaterThan(2)
    const ev = new WheelEvent('wheel', { deltaY: 30, cancelable: true })
    scroller.dispatchEvent(ev)
    expect(ev.defaultPrevented).toBe(true)
    expect(scroller.scrollTop).toBeCloseTo(30 / api().scale.value, 6)
  })
})
