/**
 * Notices and undoable actions. `undoable()` shows a toast with an Undo button and sends the
 * action only when the grace period (5 s) ends: undo within it and nothing was sent. The same
 * mechanism serves every destructive action (cancel a task, drain a node, cancel an array):
 * callers pass what to do, what to show meanwhile (`apply`) and how to take that back (`revert`).
 */

import { defineStore } from 'pinia'
import { ref } from 'vue'

export const UNDO_MS = 5000

export interface Toast {
  id: number
  text: string
  tone: 'info' | 'ok' | 'error'
  /** set while the action can still be undone: when it will be sent (ms since epoch) */
  deadline: number | null
  undo?: () => void
}

export interface UndoableAction {
  /** what the toast says meanwhile, e.g. "Cancelling task #12" */
  text: string
  /** what to do once the grace period is over */
  run: () => Promise<unknown>
  /** show the outcome at once (optimistic); `revert` takes it back on undo or failure */
  apply?: () => void
  revert?: () => void
  /** toast text once done (default: none) and on failure */
  done?: string
  failed?: (e: Error) => string
  delayMs?: number
}

let nextId = 1

export const useToastStore = defineStore('toasts', () => {
  const toasts = ref<Toast[]>([])

  function dismiss(id: number): void {
    toasts.value = toasts.value.filter((t) => t.id !== id)
  }

  function show(text: string, tone: Toast['tone'] = 'info', ms = 4000): number {
    const id = nextId++
    toasts.value = [...toasts.value, { id, text, tone, deadline: null }]
    if (ms > 0) setTimeout(() => dismiss(id), ms)
    return id
  }

  /** Schedule `action` after the grace period; resolves true if it ran, false if undone. */
  function undoable(action: UndoableAction): Promise<boolean> {
    const id = nextId++
    const delay = action.delayMs ?? UNDO_MS
    action.apply?.()
    return new Promise((resolve) => {
      const timer = setTimeout(async () => {
        dismiss(id)
        try {
          await action.run()
          if (action.done) show(action.done, 'ok')
          resolve(true)
        } catch (e) {
          action.revert?.()
          show(action.failed ? action.failed(e as Error) : (e as Error).message, 'error', 8000)
          resolve(false)
        }
      }, delay)
      const undo = () => {
        clearTimeout(timer)
        dismiss(id)
        action.revert?.()
        resolve(false)
      }
      toasts.value = [...toasts.value, { id, text: action.text, tone: 'info', deadline: Date.now() + delay, undo }]
    })
  }

  return { toasts, show, dismiss, undoable }
})
