import { describe, expect, it } from 'vitest'
import { mount } from '@vue/test-utils'
import type { ClusterNode, Task } from '../src/api/types'
import NodeCard from '../src/components/NodeCard.vue'
import SubmitForm from '../src/components/SubmitForm.vue'
import { gpuLabel, gpuSlots, usageByIndex } from '../src/lib/gpus'

const task = (id: number, status: Task['status'], gpu_devices: number[], node: number | null = 1) =>
  ({ id, status, gpu_devices, node, name: '', command: 'x', cpu: 1, mem: 64 }) as unknown as Task

describe('gpuSlots', () => {
  const node = { id: 1, gpu_devices: [{ index: 1 }, { index: 0 }, { index: 2 }] }

  it('names the live task holding each device, in index order', () => {
    const slots = gpuSlots(node, [task(7, 'RUNNING', [1]), task(8, 'ASSIGNED', [2])])
    expect(slots.map((s) => [s.device.index, s.task?.id ?? null])).toEqual([[0, null], [1, 7], [2, 8]])
  })

  it('ignores finished tasks and tasks of other nodes', () => {
    const slots = gpuSlots(node, [task(7, 'SUCCEEDED', [0]), task(9, 'RUNNING', [1], 2)])
    expect(slots.every((s) => s.task === null)).toBe(true)
  })

  it('is empty for a node without GPUs', () => {
    expect(gpuSlots({ id: 3 }, [task(1, 'RUNNING', [])])).toEqual([])
  })
})

describe('gpuLabel', () => {
  it('shows the model and memory, or the index for a declared device', () => {
    expect(gpuLabel({ index: 0, model: 'NVIDIA A100-SXM4-40GB', memory: 40960 })).toBe('A100-SXM4-40GB · 40 GiB')
    expect(gpuLabel({ index: 3, model: '', memory: null })).toBe('GPU 3')
  })
})

function gpuNode(over: Partial<ClusterNode> = {}): ClusterNode {
  return {
    id: 1, name: 'gpu-box', status: 'ONLINE', draining: false, labels: {}, cpu: 8, mem: 8192, cpu_allocated: 1, mem_allocated: 64,
    cpu_free: 7, mem_free: 8128, cpu_usage: 10, mem_usage: 10, last_heartbeat: null, tasks_running: 1, registered_at: null,
    gpu: 2, gpu_allocated: 1, gpu_free: 1, gpu_devices: [{ index: 0 }, { index: 1 }], ...over,
  }
}

describe('NodeCard with GPUs', () => {
  it('shows GPUs used/total and which task holds which device', () => {
    const w = mount(NodeCard, { props: { node: gpuNode(), tasks: [task(7, 'RUNNING', [1])], historyVersion: 0 } })
    expect(w.find('[data-testid=node-gpu-alloc]').text()).toBe('1/2')
    expect(w.findAll('[data-testid=gpu-cell]').map((c) => c.attributes('data-task-id'))).toEqual(['', '7'])
  })

  it('shows each GPU\'s utilisation and their mean beside the allocation, when the agent reports it', () => {
    const gpu_usage = [{ index: 0, util: 20, mem_used: 1024, mem_total: 40960 }, { index: 1, util: 61, mem_used: 1, mem_total: 2 }]
    const w = mount(NodeCard, { props: { node: gpuNode({ gpu_usage }), tasks: [], historyVersion: 0 } })
    expect(w.findAll('[data-testid=gpu-usage-cell]').map((c) => c.text())).toEqual(['20%', '61%'])
    expect(w.find('[data-testid=node-gpu-use]').text()).toBe('use 41%')
    const none = mount(NodeCard, { props: { node: gpuNode(), tasks: [], historyVersion: 0 } })
    expect(none.find('[data-testid=node-gpu-usage]').exists()).toBe(false)
  })

  it('shows no GPU row for a node without GPUs', () => {
    const w = mount(NodeCard, { props: { node: gpuNode({ gpu: 0, gpu_allocated: 0, gpu_devices: [] }), tasks: [], historyVersion: 0 } })
    expect(w.find('[data-testid=node-gpus]').exists()).toBe(false)
  })
})

describe('SubmitForm GPUs', () => {
  it('sends a GPU count, and refuses a fractional one beside its field', async () => {
    const w = mount(SubmitForm, { props: { errors: {}, busy: false } })
    await w.find('#f-command').setValue('nvidia-smi')
    await w.find('#f-gpu').setValue('1.5')
    await w.find('form').trigger('submit')
    expect(w.find('[data-testid=error-gpu]').text()).toContain('whole number')
    expect(w.emitted('submit')).toBeUndefined()
    await w.find('#f-gpu').setValue('2')
    await w.find('form').trigger('submit')
    expect(w.emitted('submit')![0][0]).toMatchObject({ command: 'nvidia-smi', gpu: 2 })
  })

  it('sends no gpu field for none', async () => {
    const w = mount(SubmitForm, { props: { errors: {}, busy: false } })
    await w.find('#f-command').setValue('true')
    await w.find('form').trigger('submit')
    expect(w.emitted('submit')![0][0]).not.toHaveProperty('gpu')
  })
})

describe('named resources in the submit form', () => {
  it('sends NAME=COUNT lines as an object, and refuses a bad line beside its field', async () => {
    const w = mount(SubmitForm, { props: { errors: {}, busy: false } })
    await w.find('#f-command').setValue('matlab -batch run')
    await w.find('#f-resources').setValue('matlab=one')
    await w.find('form').trigger('submit')
    expect(w.find('[data-testid=error-resources]').text()).toContain('NAME=COUNT')
    await w.find('#f-resources').setValue('matlab=1\nfpga = 2')
    await w.find('form').trigger('submit')
    expect(w.emitted('submit')![0][0]).toMatchObject({ resources: { matlab: 1, fpga: 2 } })
  })
})

describe('usageByIndex', () => {
  it('maps each reported device to its usage, nothing without nvidia-smi', () => {
    const usage = usageByIndex({ gpu_usage: [{ index: 3, util: 50, mem_used: 1, mem_total: 2 }] })
    expect(usage.get(3)?.util).toBe(50)
    expect(usage.has(0)).toBe(false)
    expect(usageByIndex({ gpu_usage: null }).size).toBe(0)
  })
})
