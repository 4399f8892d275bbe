import { afterEach, describe, expect, it } from 'vitest'
import { mount } from '@vue/test-utils'
import { defineComponent, h, nextTick, ref } from 'vue'
import { useFollowScroll } from '../src/composables/useFollowScroll'
import { useLogBuffer } from '../src/composables/useLogBuffer'
import { useLogRows } from '../src/composables/useLogRows'
import { useLogSearch } from '../src/composables/useLogSearch'
import type { StreamFilter } from '../src/lib/rowModel'
import { manualFrames } from './helpers'

const heights: PropertyDescriptor | undefined = Object.getOwnPropertyDescriptor(HTMLElement.prototype, 'clientHeight')

function host(viewport = 90) {
  Object.defineProperty(HTMLElement.prototype, 'clientHeight', { configurable: true, get: () => viewport })
  Object.defineProperty(HTMLElement.prototype, 'clientWidth', { configurable: true, get: () => 400 })
  const frames = manualFrames()
  const buffer = useLogBuffer({ raf: frames.raf, cancelRaf: frames.cancelRaf })
  buffer.reset(1)
  const filter = ref<StreamFilter>('all')
  const wrap = ref(false)
  const showTs = ref(false)
  let rows!: ReturnType<typeof useLogRows>
  let search!: ReturnType<typeof useLogSearch>
  const Comp = defineComponent({
    setup() {
      const scroller = ref<HTMLElement | null>(null)
      const probe = ref<HTMLElement | null>(null)
      const follow = useFollowScroll(scroller)
      search = useLogSearch(buffer)
      rows = useLogRows(buffer, { scroller, probe, filter, wrap, showTs, follow, search })
      return () => h('div', [h('div', { ref: scroller }), h('span', { ref: probe })])
    },
  })
  const wrapper = mount(Comp, { attachTo: document.body })
  const push = (seq: number, data: string, stream: 'stdout' | 'stderr' = 'stdout') => buffer.push({ attempt: 1, seq, stream, data, ts: 1 })
  return { frames, buffer, filter, wrap, showTs, rows: () => rows, search: () => search, wrapper, push }
}

describe('useLogRows', () => {
  afterEach(() => {
    if (heights) Object.defineProperty(HTMLElement.prototype, 'clientHeight', heights)
  })

  it('turns the lines in view into rows: numbers, positions, stderr marks, ANSI spans', async () => {
    const { frames, push, rows } = host()
    push(0, 'plain\n')
    push(1, 'oops\n', 'stderr')
    push(2, '\x1b[31mred\x1b[0m\n')
    frames.frame()
    await nextTick()
    const r = rows().rows.value
    expect(r.map((x) => x.line)).toEqual([0, 1, 2])
    expect(r.map((x) => x.y)).toEqual([0, 18, 36])
    expect(r.map((x) => x.stderr)).toEqual([false, true, false])
    expect(r[2].spans[0]).toMatchObject({ text: 'red', fg: expect.any(String) })
  })

  it('shows only stderr rows under the stderr filter, with their absolute line numbers', async () => {
    const { frames, push, rows, filter } = host()
    for (let i = 0; i < 6; i++) push(i, `l${i}\n`, i % 2 ? 'stderr' : 'stdout')
    frames.frame()
    await nextTick()
    filter.value = 'stderr'
    await nextTick()
    expect(rows().rows.value.map((x) => x.line)).toEqual([1, 3, 5])
  })

  it('keeps at most a viewport of rows (plus overscan) for a long log', async () => {
    const { frames, push, rows } = host(180)
    push(0, Array.from({ length: 5000 }, (_, i) => `line ${i}`).join('\n') + '\n')
    frames.frame()
    await nextTick()
    const r = rows().rows.value
    expect(r.length).toBeLessThanOrEqual(180 / 18 + 2 * 6 + 1)
  })

  it('marks search hits in the rows', async () => {
    const { frames, push, rows, search } = host()
    push(0, 'alpha\nbeta\n')
    frames.frame()
    await nextTick()
    search().query.value = 'bet'
    for (let i = 0; i < 5 && !search().count.value; i++) {
      await new Promise((ok) => setTimeout(ok, 150))
      frames.frame()
    }
    await nextTick()
    const beta = rows().rows.value.find((x) => x.line === 1)!
    expect(beta.spans.some((s) => s.mark && s.text === 'bet')).toBe(true)
  })
})
