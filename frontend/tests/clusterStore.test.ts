import { beforeEach, describe, expect, it } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { isNewer, useClusterStore } from '../src/stores/cluster'
import type { ClusterNode, Task } from '../src/api/types'

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

  it('keeps the newer copy of a task: a stale REST page never overwrites a newer live frame', () => {
    const store = useClusterStore()
    store.upsertTasks([task(1, 'RUNNING', '2026-01-01T00:00:02.000500Z')])
    const v = store.taskVersion
    store.upsertTasks([task(1, 'PENDING', '2026-01-01T00:00:02.000499Z')]) // older by a microsecond
    expect(store.tasks.get(1)!.status).toBe('RUNNING')
    expect(store.taskVersion).toBe(v) // nothing changed: no re-render
    store.upsertTasks([task(1, 'SUCCEEDED', '2026-01-01T00:00:03Z')])
    expect(store.tasks.get(1)!.status).toBe('SUCCEEDED')
  })

  it('merges a detail with the freshest live copy, by updated_at', () => {
    const store = useClusterStore()
    const detail = { ...task(5, 'RUNNING', '2026-01-01T00:00:05Z'), events: [{ id: 1 }] }
    expect(store.freshTask(5, detail)).toBe(detail)
    store.upsertTasks([task(5, 'SUCCEEDED', '2026-01-01T00:00:06Z')])
    const merged = store.freshTask(5, detail, task(5, 'RUNNING', '2026-01-01T00:00:05.5Z')) as typeof detail
    expect(merged.status).toBe('SUCCEEDED')
    expect(merged.events).toEqual([{ id: 1 }]) // what only the detail has is kept
    expect((store.freshTask(5, { ...detail, updated_at: '2026-01-01T00:00:07Z', status: 'FAILED' as const }) as Task).status).toBe('FAILED')
  })

  it('compares microseconds, and lets the later arrival win on a tie or a missing time', () => {
    expect(isNewer({ updated_at: '2026-01-01T00:00:00.000002Z' }, { updated_at: '2026-01-01T00:00:00.000001Z' })).toBe(true)
    expect(isNewer({ updated_at: '2026-01-01T00:00:00Z' }, { updated_at: '2026-01-01T00:00:00.000001Z' })).toBe(false)
    expect(isNewer({ updated_at: '2026-01-01T00:00:00Z' }, { updated_at: '2026-01-01T00:00:00Z' })).toBe(true)
    expect(isNewer({ updated_at: null }, { updated_at: '2026-01-01T00:00:00Z' })).toBe(true)
  })
})

function task(id: number, status: Task['status'], updated_at: string): Task {
  return {
    id, name: '', command: 'true', cpu: 1, mem: 64, priority: 0, status, status_reason: '', status_message: '', node: null, node_name: null,
    attempt: 1, max_attempts: 3, timeout: null, exit_code: null, created_at: null, assigned_at: null, started_at: null, finished_at: null, updated_at,
  }
}
