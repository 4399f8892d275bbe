import { describe, expect, it } from 'vitest'
import { mount } from '@vue/test-utils'
import Heatmap from '../src/components/Heatmap.vue'
import type { ClusterNode, Task } from '../src/api/types'

function node(i: number, over: Partial<ClusterNode> = {}): ClusterNode {
  return {
    id: i, name: `n${i}`, status: 'ONLINE', draining: false, labels: {}, cpu: 4, mem: 8192,
    cpu_allocated: 1, mem_allocated: 1024, cpu_free: 3, mem_free: 7168, cpu_usage: (i * 7) % 100, mem_usage: 20,
    last_heartbeat: null, tasks_running: i % 3, registered_at: null, ...over,
  }
}

function task(id: number, nodeId: number, cpu: number): Task {
  return {
    id, name: `t${id}`, command: 'sleep 9', cpu, mem: 64, priority: 0, status: 'RUNNING', status_reason: '', status_message: '', node: nodeId,
    node_name: `n${nodeId}`, attempt: 1, max_attempts: 3, timeout: null, exit_code: null, created_at: null, assigned_at: null, started_at: null, finished_at: null,
  }
}

describe('Heatmap', () => {
  it('shows one card per node with name, status, usage and allocation', () => {
    const w = mount(Heatmap, { props: { nodes: [node(1), node(2, { status: 'UNHEALTHY' }), node(3, { status: 'OFFLINE', draining: true })] } })
    const cards = w.findAll('[data-testid=node-card]')
    expect(cards).toHaveLength(3)
    expect(cards[0].find('[data-testid=node-name]').text()).toBe('n1')
    expect(cards[0].find('[data-testid=node-usage]').text()).toBe('7%')
    expect(cards[0].find('[data-testid=node-cpu-alloc]').text()).toBe('1/4')
    expect(cards[0].find('[data-testid=node-mem-alloc]').text()).toBe('1.0 GiB/8.0 GiB')
    expect(cards[1].attributes('data-status')).toBe('UNHEALTHY')
    expect(cards[1].find('[data-testid=node-status]').text()).toBe('UNHEALTHY')
    expect(cards[2].find('[data-testid=node-usage]').text()).toBe('—') // no live usage for an offline node
    expect(cards[2].attributes('data-draining')).toBe('true')
  })

  it('draws each running task as a block as wide as its share of the node', () => {
    const tasksByNode = new Map([[1, [task(10, 1, 1), task(11, 1, 2)]]])
    const w = mount(Heatmap, { props: { nodes: [node(1), node(2)], tasksByNode } })
    const blocks = w.findAll('[data-testid=node-card]')[0].findAll('[data-testid=task-block]')
    expect(blocks.map((b) => b.attributes('data-task-id'))).toEqual(['11', '10']) // largest first
    expect(blocks[0].attributes('style')).toContain('width: 50%')
    expect(blocks[1].attributes('style')).toContain('width: 25%')
    expect(w.findAll('[data-testid=node-card]')[1].findAll('[data-testid=task-block]')).toHaveLength(0)
  })

  it('switches to the dense grid past 120 nodes, one cell per node', () => {
    const w = mount(Heatmap, { props: { nodes: Array.from({ length: 121 }, (_, i) => node(i)) } })
    expect(w.find('[data-testid=node-card]').exists()).toBe(false)
    const cells = w.findAll('[data-testid=dense-cell]')
    expect(cells).toHaveLength(121)
    expect(cells[120].attributes('data-node')).toBe('n120')
    const few = mount(Heatmap, { props: { nodes: [node(1)], view: 'dense' } })
    expect(few.findAll('[data-testid=dense-cell]')).toHaveLength(1)
  })

  it('colours a card by CPU load', () => {
    const w = mount(Heatmap, { props: { nodes: [node(1, { cpu_usage: 5 }), node(2, { cpu_usage: 95 })] } })
    const [cool, hot] = w.findAll('[data-testid=node-card]').map((c) => c.attributes('style'))
    expect(cool).not.toBe(hot)
    expect(hot).toMatch(/--load/)
  })
})
