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
