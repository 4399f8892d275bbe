/** What the signed-in user may do to a task, as the master's tasks.access decides it: the owner
 * (with the submit right) or an operator (cancel_any) acts on a task; the master refuses the rest
 * anyway, this only hides buttons that would be refused. */
import type { Me, Task } from '../api/types'

export function mayAct(me: Me | null | undefined, task: Pick<Task, 'owner'>): boolean {
  if (!me?.authenticated) return false
  if (me.permissions.cancel_any) return true
  return !!me.permissions.submit && !!task.owner && task.owner === me.username
}
