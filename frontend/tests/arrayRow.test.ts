import { afterEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import ArrayRow from '../src/components/ArrayRow.vue'
import { api } from '../src/api/client'
import type { Task } from '../src/api/types'

const element = (id: number, status: Task['status']) => ({ id, name: 'sweep', command: 'true', cpu: 1, mem: 16, priority: 0, status, status_reason: '', status_message: '', node: null, node_name: null, attempt: 0, max_attempts: 3, timeout: null, exit_code: null, created_at: null, assigned_at: null, started_at: null, finished_at: null, array_id: 7, array_index: id }) as Task

afterEach(() => vi.restoreAllMocks())

describe('ArrayRow', () => {
  it('shows the array as one row with a bar per status, expands to its elements, cancels them all', async () => {
    vi.useFakeTimers()
    const counts = { PENDING: 6, ASSIGNED: 0, RUNNING: 2, SUCCEEDED: 2, FAILED: 0, CANCELLED: 0 }
    vi.spyOn(api, 'array').mockResolvedValue({ id: 7, spec: '0-9%2', size: 10, throttle: 2, name: 'sweep', submitter: 'ann', created_at: '', counts })
    const cancel = vi.spyOn(api, 'cancelArray').mockResolvedValue({ id: 7, spec: '0-9%2', size: 10, throttle: 2, name: 'sweep', submitter: 'ann', created_at: '', counts: { ...counts, PENDING: 0, RUNNING: 0, CANCELLED: 8 } })
    vi.spyOn(window, 'confirm').mockReturnValue(true)
    const wrapper = mount(ArrayRow, {
      props: { arrayId: 7, tasks: [element(1, 'RUNNING'), element(2, 'SUCCEEDED')], canCancel: true, cancelling: new Set<number>(), now: 0 },
      global: { stubs: { RouterLink: true, TaskTable: { props: ['tasks'], template: '<div data-testid="elements">{{ tasks.length }}</div>' } } },
    })
    await vi.advanceTimersByTimeAsync(600)
    await flushPromises()
    const bars = wrapper.findAll('[data-testid=array-progress] > div')
    expect(bars.map((b) => [b.attributes('data-status'), b.attributes('style')])).toEqual([
      ['SUCCEEDED', 'width: 20%;'], ['RUNNING', 'width: 20%;'], ['PENDING', 'width: 60%;'],
    ])
    expect(wrapper.text()).toContain('at most 2 at once')
    expect(wrapper.find('[data-testid=elements]').exists()).toBe(false)
    await wrapper.find('[data-testid=array-toggle]').trigger('click')
    expect(wrapper.find('[data-testid=elements]').text()).toBe('2')
    await wrapper.find('[data-testid=array-cancel]').trigger('click')
    await flushPromises()
    expect(cancel).toHaveBeenCalledWith(7)
    expect(wrapper.find('[data-testid=array-cancel]').exists()).toBe(false)
    vi.useRealTimers()
  })
})
