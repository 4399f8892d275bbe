/**
 * Live cluster state: nodes and recently seen tasks, keyed by id, fed by REST loads and the
 * events socket. Maps are held in shallow refs and replaced on change (one reactive trigger per
 * batch, not per field), so a 1,000-node heartbeat frame costs one re-render.
 */

import { defineStore } from 'pinia'
import { computed, shallowRef } from 'vue'
import { api, wsUrl } from '../api/client'
import type { ClusterNode, NodeUsage, Task } from '../api/types'
import { useEventsSocket } from '../composables/useEventsSocket'
import { useHistoryStore } from './history'

const TASKS_KEPT = 5000

/** An ISO time as microseconds since the epoch (the master writes microseconds; JS dates keep ms). */
function micros(iso: string | null | undefined): number {
  if (!iso) return -Infinity
  const m = /^(.*?)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?$/.exec(iso)
  if (!m) return -Infinity
  const ms = Date.parse(m[1] + (m[3] ?? 'Z'))
  return ms * 1000 + Number((m[2] ?? '').padEnd(6, '0').slice(0, 6))
}

/**
 * The merge rule for two copies of one task (a REST answer and a live frame cross all the time):
 * the newer `updated_at` wins; on a tie, or when either lacks it, the later arrival (`b`) wins.
 */
export function isNewer(b: Pick<Task, 'updated_at'>, a: Pick<Task, 'updated_at'>): boolean {
  if (!a.updated_at || !b.updated_at) return true
  return micros(b.updated_at) >= micros(a.updated_at)
}

export const useClusterStore = defineStore('cluster', () => {
  const nodes = shallowRef(new Map<number, ClusterNode>())
  const tasks = shallowRef(new Map<number, Task>())
  const nodesLoaded = shallowRef(false)
  const nodesError = shallowRef<string | null>(null)
  /** bumped on every task change, for views that keep their own lists */
  const taskVersion = shallowRef(0)

  function upsertNodes(list: ClusterNode[], { replace = false } = {}): void {
    const next = replace ? new Map<number, ClusterNode>() : new Map(nodes.value)
    for (const n of list) next.set(n.id, n)
    nodes.value = next
  }

  /** Merge heartbeat figures into the nodes held (unknown ids wait for the next full read). */
  function mergeUsage(list: NodeUsage[]): void {
    const next = new Map(nodes.value)
    let changed = false
    for (const u of list) {
      const n = next.get(u.id)
      if (!n) continue
      next.set(u.id, { ...n, cpu_usage: u.cpu_usage, mem_usage: u.mem_usage, last_heartbeat: u.last_heartbeat, ...(u.gpu_usage !== undefined ? { gpu_usage: u.gpu_usage } : {}) })
      changed = true
    }
    if (changed) nodes.value = next
  }

  function upsertTasks(list: Task[]): void {
    if (list.length === 0) return
    const next = new Map(tasks.value)
    let changed = false
    for (const t of list) {
      const held = next.get(t.id)
      if (held && !isNewer(t, held)) continue // a stale copy (an old REST page, a late frame)
      next.set(t.id, t)
      changed = true
    }
    if (!changed) return
    if (next.size > TASKS_KEPT) {
      const ids = [...next.keys()].sort((a, b) => a - b)
      for (const id of ids.slice(0, next.size - TASKS_KEPT)) next.delete(id)
    }
    tasks.value = next
    taskVersion.value++
  }

  /**
   * The freshest view of one task: `base` (a detail answer, with events and env) updated by the
   * newest of the live copies (the store's, and e.g. the log stream's status frame), by the rule.
   */
  function freshTask<T extends Task>(id: number, base: T | null, ...copies: Array<Task | null | undefined>): T | Task | null {
    let newest: Task | null = tasks.value.get(id) ?? null
    for (const c of copies) if (c && (!newest || isNewer(c, newest))) newest = c
    if (!base) return newest
    return newest && isNewer(newest, base) ? { ...base, ...newest } : base
  }

  /** Tasks holding a reservation (ASSIGNED, RUNNING) by node, newest first: the cards' blocks. */
  const activeByNode = computed(() => {
    const out = new Map<number, Task[]>()
    for (const t of tasks.value.values()) {
      if (t.node === null || (t.status !== 'RUNNING' && t.status !== 'ASSIGNED')) continue
      const list = out.get(t.node)
      if (list) list.push(t)
      else out.set(t.node, [t])
    }
    return out
  })

  /** Read every task holding a reservation (the cluster view's blocks), level-triggered. */
  async function loadActiveTasks(): Promise<void> {
    try {
      const page = await api.searchTasks({ status: 'ASSIGNED,RUNNING', cursor: '', page_size: 1000 })
      const seen = new Set(page.results.map((t) => t.id))
      // a task held as active that the answer no longer lists has moved on: re-read it later
      const gone = [...tasks.value.values()].filter((t) => (t.status === 'RUNNING' || t.status === 'ASSIGNED') && !seen.has(t.id))
      upsertTasks(page.results)
      if (gone.length && !page.next_cursor) await Promise.all(gone.slice(0, 20).map(async (t) => upsertTasks([await api.task(t.id)])))
    } catch {
      /* the next read tries again */
    }
  }

  async function loadNodes(): Promise<void> {
    try {
      const page = await api.nodes()
      upsertNodes(page.results, { replace: true })
      nodesError.value = null
    } catch (e) {
      nodesError.value = (e as Error).message
    } finally {
      nodesLoaded.value = true
    }
  }

  // one collator: localeCompare with options builds one per call (a 1,000-node sort took ~50 ms)
  const byName = new Intl.Collator(undefined, { numeric: true })
  const nodeList = computed(() => [...nodes.value.values()].sort((a, b) => byName.compare(a.name, b.name)))

  const totals = computed(() => {
    const t = { nodes: 0, online: 0, unhealthy: 0, offline: 0, draining: 0, cpu: 0, cpuAllocated: 0, mem: 0, memAllocated: 0, running: 0, usageSum: 0, usageCount: 0 }
    for (const n of nodes.value.values()) {
      t.nodes++
      if (n.status === 'ONLINE') t.online++
      else if (n.status === 'UNHEALTHY') t.unhealthy++
      else t.offline++
      if (n.draining) t.draining++
      if (n.status !== 'OFFLINE') {
        t.cpu += n.cpu
        t.mem += n.mem
      }
      t.cpuAllocated += n.cpu_allocated
      t.memAllocated += n.mem_allocated
      t.running += n.tasks_running ?? 0
      if (n.cpu_usage !== null && n.status === 'ONLINE') {
        t.usageSum += n.cpu_usage
        t.usageCount++
      }
    }
    return { ...t, avgUsage: t.usageCount ? t.usageSum / t.usageCount : null }
  })

  const socket = useEventsSocket({
    url: () => wsUrl('/ws/events/'),
    onNodes: (list) => upsertNodes(list),
    onUsage: (list) => mergeUsage(list),
    onTasks: (list) => upsertTasks(list),
    onFrame: (frame) => {
      if (frame.type === 'history') useHistoryStore().ingest(frame)
    },
    poll: () => Promise.all([loadNodes(), pollTasks?.()]),
    // node transitions made by another process (the sweeper) reach this socket only through a
    // shared channel layer: re-read the nodes now and then anyway (often for small clusters)
    reconcile: () => loadNodes(),
    reconcileMs: () => (nodes.value.size <= 50 ? 1000 : nodes.value.size <= 200 ? 2000 : 10_000),
  })

  let pollTasks: (() => Promise<void>) | null = null
  /** The tasks view registers how to refresh its list while the socket is down. */
  function setTaskPoller(fn: (() => Promise<void>) | null): void {
    pollTasks = fn
  }

  return {
    nodes, tasks, taskVersion, nodesLoaded, nodesError, nodeList, totals,
    connection: socket.state,
    connectionFailures: socket.failures,
    startLive: socket.start,
    stopLive: socket.stop,
    reconnectLive: socket.reconnect,
    upsertNodes, mergeUsage, upsertTasks, freshTask, loadNodes, setTaskPoller, activeByNode, loadActiveTasks }
})
