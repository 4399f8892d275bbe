import { beforeEach, describe, expect, it } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { useClusterStore } from '../src/stores/cluster'
import type { ClusterNode } from '../src/api/types'

const node = (id: number, over: Partial<ClusterNode> = {}): ClusterNode => ({
  id, name: `n${id}`, status: 'ONLINE', draining: false, labels: {}, cpu: 4, mem: 8192, cpu_allocated: 2, mem_allocated: 1024,
  cpu_free: 2, mem_free: 7168, cpu_usage: 10, mem_usage: 10, last_heartbeat: null, tasks_running: 1, registered_at: null, ...over,
})

describe('cluster store', () => {
  beforeEach(() => setActivePinia(createPinia()))

  it('merges partial usage updates into the nodes held, keeping every other field', () => {
    const store = useClusterStore()
    store.upsertNodes([node(1), node(2)])
    store.mergeUsage([{ id: 1, cpu_usage: 93, mem_usage: 40, last_heartbeat: '2026-01-01T00:00:00Z' }, { id: 99, cpu_usage: 1, mem_usage: 1, last_heartbeat: null }])
    const n1 = store.nodes.get(1)!
    expect(n1.cpu_usage).toBe(93)
    expect(n1.name).toBe('n1')
    expect(n1.cpu_allocated).toBe(2)
    expect(store.nodes.has(99)).toBe(false) // unknown: waits for a full read
    expect(store.nodes.get(2)!.cpu_usage).toBe(10)
  })

  it('adds up the cluster totals', () => {
    const store = useClusterStore()
    store.upsertNodes([node(1, { cpu_usage: 20 }), node(2, { cpu_usage: 60, draining: true }), node(3, { status: 'OFFLINE', cpu_usage: null })])
    expect(store.totals).toMatchObject({ nodes: 3, online: 2, offline: 1, draining: 1, cpu: 8, cpuAllocated: 6, running: 3, avgUsage: 40 })
  })
})
