import { describe, expect, it } from 'vitest'
import { mount } from '@vue/test-utils'
import Heatmap from '../src/components/Heatmap.vue'
import type { ClusterNode } from '../src/api/types'

function node(i: number, over: Partial<ClusterNode> = {}): ClusterNode {
  return {
    id: i, name: `n${i}`, status: 'ONLINE', draining: false, labels: {}, cpu: 4, mem: 8192,
    cpu_allocated: 1, mem_allocated: 1024, cpu_free: 3, mem_free: 7168, cpu_usage: (i * 7) % 100, mem_usage: 20,
    last_heartbeat: null, tasks_running: i % 3, registered_at: null, ...over,
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

  it('packs 1,000 nodes into small cards that still name each node', () => {
    const nodes = Array.from({ length: 1000 }, (_, i) => node(i))
    const w = mount(Heatmap, { props: { nodes } })
    const cards = w.findAll('[data-testid=node-card]')
    expect(cards).toHaveLength(1000)
    expect(cards[999].find('[data-testid=node-name]').text()).toBe('n999')
    expect(w.find('[data-testid=heatmap]').attributes('style')).toContain('minmax(66px')
  })

  it('colours a card by CPU usage', () => {
    const w = mount(Heatmap, { props: { nodes: [node(1, { cpu_usage: 5 }), node(2, { cpu_usage: 95 })] } })
    const [cool, hot] = w.findAll('[data-testid=node-card]').map((c) => c.attributes('style'))
    expect(cool).not.toBe(hot)
    expect(hot).toMatch(/background-color/)
  })
})
