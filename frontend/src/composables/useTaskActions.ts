/**
 * What a user does to a task from any view: cancel (sent only after the undo toast's 5 s; the
 * row shows "cancelling" meanwhile), rerun (a new task with the same spec), and the way to
 * "edit and resubmit" (the submit form, prefilled from the task).
 */
import { ref } from 'vue'
import { useRouter } from 'vue-router'
import { api } from '../api/client'
import type { Task } from '../api/types'
import { useClusterStore } from '../stores/cluster'
import { useToastStore } from '../stores/toasts'

/** tasks whose cancel is waiting out its undo toast (shared: every view shows it the same) */
const pendingCancel = ref(new Set<number>())

export function useTaskActions() {
  const cluster = useClusterStore()
  const toasts = useToastStore()
  const router = useRouter()

  function mark(id: number, on: boolean): void {
    const next = new Set(pendingCancel.value)
    if (on) next.add(id)
    else next.delete(id)
    pendingCancel.value = next
  }

  function cancel(task: Pick<Task, 'id' | 'name'>): Promise<boolean> {
    return toasts.undoable({
      text: `Cancelling task #${task.id}${task.name ? ` (${task.name})` : ''}`,
      apply: () => mark(task.id, true),
      revert: () => mark(task.id, false),
      run: async () => {
        try {
          cluster.upsertTasks([await api.cancel(task.id)])
        } finally {
          mark(task.id, false)
        }
      },
      done: `Task #${task.id} cancelled.`,
      failed: (e) => `Task #${task.id} was not cancelled: ${e.message}`,
    })
  }

  async function rerun(task: Pick<Task, 'id'>): Promise<void> {
    try {
      const created = await api.rerun(task.id)
      cluster.upsertTasks([created])
      toasts.show(`Task #${created.id} reruns #${task.id}.`, 'ok')
      await router.push(`/tasks/${created.id}`)
    } catch (e) {
      toasts.show(`Task #${task.id} could not be rerun: ${(e as Error).message}`, 'error', 8000)
    }
  }

  function editAndResubmit(task: Pick<Task, 'id'>): void {
    void router.push({ path: '/tasks', query: { new: '1', from: String(task.id) } })
  }

  return { cancel, rerun, editAndResubmit, pendingCancel }
}
