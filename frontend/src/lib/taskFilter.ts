/**
 * The task list's filters as the URL holds them (`?q=&node=&owner=&status=`), and the same rule
 * the server applies, for tasks that arrive live: a new task joins the list shown only if it
 * matches. (The owner is not in a task's summary: with an owner filter, only the server decides.)
 */
import { TASK_STATUSES, type Task, type TaskStatus } from '../api/types'

export interface TaskFilter {
  q: string
  node: string
  owner: string
  status: TaskStatus[]
}

type Query = Record<string, unknown>

function text(v: unknown): string {
  return typeof v === 'string' ? v.trim() : ''
}

export function filterFromQuery(query: Query): TaskFilter {
  const status = text(query.status)
    .split(',')
    .map((s) => s.toUpperCase())
    .filter((s): s is TaskStatus => (TASK_STATUSES as string[]).includes(s))
  return { q: text(query.q), node: text(query.node), owner: text(query.owner), status }
}

/** The URL query for a filter (empty parts left out). */
export function filterToQuery(f: TaskFilter): Record<string, string | undefined> {
  return { q: f.q || undefined, node: f.node || undefined, owner: f.owner || undefined, status: f.status.join(',') || undefined }
}

/** Whether the client can tell on its own (no owner filter). */
export function checkable(f: TaskFilter): boolean {
  return !f.owner
}

/** The server's rule: status in the set, node by id or name, text in the name or the command (or #id). */
export function matches(t: Task, f: TaskFilter): boolean {
  if (f.status.length && !f.status.includes(t.status)) return false
  if (f.node && String(t.node) !== f.node && t.node_name !== f.node) return false
  if (f.q) {
    const id = /^#(\d+)$/.exec(f.q)
    if (id) return t.id === Number(id[1])
    const needle = f.q.toLowerCase()
    if (!t.name.toLowerCase().includes(needle) && !t.command.toLowerCase().includes(needle)) return false
  }
  return true
}
