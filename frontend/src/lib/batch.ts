// Batch workloads (issue 16): how attempts, retries and arrays read in the dashboard.
import type { Task } from '../api/types'

/** "attempt 3 · retry 2/2" — the attempt number, then the retries spent of those allowed, then the
 * attempts lost to infrastructure when any (those count against max_attempts). A failed task
 * without retries reads "attempt 1", never "1/3": max_attempts bounds lost attempts only. */
export function attemptsLabel(task: Pick<Task, 'attempt' | 'max_attempts' | 'retries' | 'retries_used' | 'lost_attempts'>): string {
  const parts = [`attempt ${task.attempt}`]
  if (task.retries) parts.push(`retry ${task.retries_used ?? 0}/${task.retries}`)
  if (task.lost_attempts) parts.push(`lost ${task.lost_attempts}/${task.max_attempts}`)
  return parts.join(' · ')
}

/** "in 20 s", "now": when the next retry is due, relative to `now` (ms). */
export function retryDue(notBefore: string | null | undefined, now: number): string | null {
  if (!notBefore) return null
  const ms = Date.parse(notBefore) - now
  if (!Number.isFinite(ms)) return null
  if (ms <= 0) return 'now'
  const s = Math.ceil(ms / 1000)
  return s < 120 ? `in ${s} s` : `in ${Math.round(s / 60)} min`
}

export type ListRow<T> = { kind: 'task'; task: T } | { kind: 'array'; arrayId: number; tasks: T[] }

/** The task list with each array's elements folded into one row, where its first element stands. */
export function foldArrays<T extends { array_id?: number | null }>(tasks: T[]): ListRow<T>[] {
  const rows: ListRow<T>[] = []
  const groups = new Map<number, T[]>()
  for (const task of tasks) {
    const id = task.array_id
    if (id === null || id === undefined) {
      rows.push({ kind: 'task', task })
      continue
    }
    let group = groups.get(id)
    if (!group) {
      group = []
      groups.set(id, group)
      rows.push({ kind: 'array', arrayId: id, tasks: group })
    }
    group.push(task)
  }
  return rows
}

const ORDER = ['SUCCEEDED', 'FAILED', 'CANCELLED', 'RUNNING', 'ASSIGNED', 'PENDING'] as const

/** The progress bar's segments: one per status with tasks, as a percentage of the array's size. */
export function progressSegments(counts: Partial<Record<string, number>>, size: number): Array<{ status: string; count: number; percent: number }> {
  if (size <= 0) return []
  return ORDER.filter((s) => (counts[s] ?? 0) > 0).map((s) => ({ status: s, count: counts[s]!, percent: (100 * counts[s]!) / size }))
}
