import { describe, expect, it } from 'vitest'
import { mount } from '@vue/test-utils'
import { nextTick } from 'vue'
import LogViewer from '../src/components/LogViewer.vue'
import { useLogBuffer } from '../src/composables/useLogBuffer'
import { manualFrames } from './helpers'

function setup(options: Parameters<typeof useLogBuffer>[0] = {}, props: Record<string, unknown> = {}) {
  const frames = manualFrames()
  const buffer = useLogBuffer({ raf: frames.raf, cancelRaf: frames.cancelRaf, ...options })
  buffer.reset(1)
  const wrapper = mount(LogViewer, {
    props: { buffer, streamState: 'live', started: true, taskStatus: 'RUNNING', attempts: [1], pinned: null, rawUrl: '/api/v1/tasks/1/logs/raw?attempt=1', ...props },
  })
  return { frames, buffer, wrapper }
}

describe('LogViewer', () => {
  it('says when the task has not written anything yet', async () => {
    const { wrapper } = setup({}, { taskStatus: 'PENDING' })
    expect(wrapper.find('[data-testid=log-empty]').text()).toMatch(/waiting for the task to start/i)
  })

  it('shows a loading state before the first frame', async () => {
    const { wrapper } = setup({}, { started: false })
    expect(wrapper.find('[data-testid=log-empty]').text()).toMatch(/loading log/i)
  })

  it('counts lines and says when older lines were dropped past the cap, linking the raw log', async () => {
    const { frames, buffer, wrapper } = setup({ cap: 8, segBits: 2 })
    expect(wrapper.find('[data-testid=log-dropped]').exists()).toBe(false)
    for (let i = 0; i < 10; i++) buffer.push({ attempt: 1, seq: i, stream: 'stdout', data: `line ${i}\n`, ts: i })
    frames.frame()
    await nextTick()
    expect(wrapper.find('[data-testid=log-viewer]').attributes('data-lines')).toBe('6')
    const notice = wrapper.find('[data-testid=log-dropped]')
    expect(notice.text()).toMatch(/4 older lines were dropped from view/)
    expect(notice.find('a').attributes('href')).toBe('/api/v1/tasks/1/logs/raw?attempt=1')
    expect(wrapper.find('[data-testid=log-download]').attributes('href')).toBe('/api/v1/tasks/1/logs/raw?attempt=1')
  })

  it('offers the attempts when there are several', async () => {
    const { wrapper } = setup({}, { attempts: [1, 2, 3] })
    const options = wrapper.findAll('[data-testid=log-attempt] option').map((o) => o.text())
    expect(options).toEqual(['latest (3)', '1', '2', '3'])
    await wrapper.find('[data-testid=log-attempt]').setValue('2')
    expect(wrapper.emitted('pin')?.[0]).toEqual([2])
  })

  it('leaves the scroller alone when an empty buffer is reset (no forced layout before the first lines)', async () => {
    const { frames, buffer, wrapper } = setup()
    const el = wrapper.find('[data-testid=log-scroller]').element as HTMLElement
    let touched = 0
    Object.defineProperty(el, 'scrollHeight', { configurable: true, get: () => (touched++, 1000) })
    Object.defineProperty(el, 'scrollTop', { configurable: true, get: () => 0, set: () => void touched++ })
    await nextTick()
    touched = 0
    buffer.reset(2) // what the log socket's status frame does before any line arrives
    await nextTick()
    await nextTick()
    expect(touched).toBe(0)
    // lines do scroll it (following): the count above could have moved
    buffer.push({ attempt: 2, seq: 0, stream: 'stdout', data: 'a\nb\n', ts: 0 })
    frames.frame()
    await nextTick()
    await nextTick()
    expect(touched).toBeGreaterThan(0)
  })
})

describe('LogViewer counts', () => {
  it('says "1 line" and "2 lines"', async () => {
    const { frames, buffer, wrapper } = setup()
    buffer.push({ attempt: 1, seq: 0, stream: 'stdout', data: 'one\n', ts: 0 })
    frames.frame()
    await nextTick()
    expect(wrapper.find('[data-testid=log-line-count]').text()).toBe('1 line')
    buffer.push({ attempt: 1, seq: 1, stream: 'stdout', data: 'two\n', ts: 0 })
    frames.frame()
    await nextTick()
    expect(wrapper.find('[data-testid=log-line-count]').text()).toBe('2 lines')
  })
})
