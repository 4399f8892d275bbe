/**
 * useLogStream: a task's log over `/ws/tasks/{id}/logs/`, history then live, into a LogBuffer.
 *
 * The buffer's seq tracker drops duplicates and holds chunks past a gap; a gap still open after
 * `gapMs` is filled from REST. After a drop the socket is reopened with
 * `?attempt=<current>&after=<last seq held>` (exponential backoff), so nothing is fetched twice
 * and nothing is missed. Following the newest attempt (the default) switches the buffer when a
 * newer attempt starts; `pin(n)` shows one attempt only.
 */

import { getCurrentScope, onScopeDispose, ref, shallowRef } from 'vue'
import type { LogFrame, LogPage, Task, TaskStatus } from '../api/types'
import type { LogBuffer } from './useLogBuffer'
import { useReconnectingSocket } from './useReconnectingSocket'

export type StreamState = 'connecting' | 'live' | 'reconnecting' | 'closed' | 'unauthorized' | 'not-found'

export interface LogStreamOptions {
  taskId: number
  buffer: LogBuffer
  /** ws URL for a path (same origin by default) */
  url: (path: string) => string
  /** REST page of chunks, used to fill a gap */
  fetchPage?: (params: { attempt: number; after: number; limit: number }) => Promise<LogPage>
  WebSocketImpl?: typeof WebSocket
  gapMs?: number
  random?: () => number
}

export function useLogStream(options: LogStreamOptions) {
  const { buffer, taskId } = options
  const state = ref<StreamState>('closed')
  const status = ref<TaskStatus | null>(null)
  const task = shallowRef<Task | null>(null)
  /** attempt shown, or null to follow the newest */
  const pinned = ref<number | null>(null)
  const newestAttempt = ref(0)
  /** received at least the first frame: history is arriving */
  const started = ref(false)
  let gapTimer: ReturnType<typeof setTimeout> | null = null
  let stopped = true
  let filling = false
  /** the attempt the current socket was opened for (0: unpinned) */
  let socketAttempt = 0

  function path(): string {
    const attempt = buffer.attempt.value
    const q = attempt > 0 ? `?attempt=${attempt}&after=${buffer.lastSeq()}` : pinned.value !== null ? `?attempt=${pinned.value}` : ''
    return `/ws/tasks/${taskId}/logs/${q}`
  }

  function switchTo(attempt: number): void {
    buffer.reset(attempt)
  }

  function onFrame(frame: LogFrame): void {
    started.value = true
    if (frame.type === 'status') {
      status.value = frame.status
      task.value = frame.task
      newestAttempt.value = Math.max(newestAttempt.value, frame.attempt)
      if (pinned.value === null && frame.attempt > buffer.attempt.value) {
        const resumed = socketAttempt > 0 // a resumed socket is pinned server-side: reopen unpinned
        switchTo(frame.attempt)
        if (resumed) reopen()
      }
    } else if (frame.type === 'attempt') {
      newestAttempt.value = Math.max(newestAttempt.value, frame.attempt)
      if (pinned.value === null && frame.attempt > buffer.attempt.value) switchTo(frame.attempt)
    } else if (frame.type === 'log') {
      if (buffer.attempt.value === 0 && pinned.value === null) switchTo(frame.attempt)
      buffer.push(frame)
      if (buffer.hasGap()) watchGap()
    }
  }

  function watchGap(): void {
    if (gapTimer || filling) return
    gapTimer = setTimeout(() => void fillGap(), options.gapMs ?? 750)
  }

  async function fillGap(): Promise<void> {
    gapTimer = null
    if (!buffer.hasGap() || !options.fetchPage || filling) return
    filling = true
    try {
      const attempt = buffer.attempt.value
      while (buffer.hasGap() && buffer.attempt.value === attempt && !stopped) {
        const page = await options.fetchPage({ attempt, after: buffer.lastSeq(), limit: 5000 })
        if (page.chunks.length === 0) break
        for (const c of page.chunks) buffer.push(c)
        if (!page.more) break
      }
    } catch {
      /* the next reconnect resumes from the last seq held anyway */
    } finally {
      filling = false
    }
  }

  const link = useReconnectingSocket({
    url: () => {
      socketAttempt = buffer.attempt.value
      state.value = failures.value > 0 ? 'reconnecting' : 'connecting'
      return options.url(path())
    },
    WebSocketImpl: options.WebSocketImpl,
    random: options.random,
    shouldReconnect: (ev) => ev.code !== 4401 && ev.code !== 4404,
    onMessage: (text) => {
      state.value = 'live'
      try {
        // log frames of the attempt shown go to the buffer as text (parsed at the flush)
        if (buffer.attempt.value > 0 && (text.startsWith('{"type": "log"') || text.startsWith('{"type":"log"'))) {
          started.value = true
          buffer.pushFrame(text)
          if (buffer.hasGap()) watchGap()
        } else onFrame(JSON.parse(text) as LogFrame)
      } catch {
        /* ignore frames we cannot read */
      }
    },
    onClose: (ev, retryIn) => {
      if (retryIn !== null) state.value = 'reconnecting'
      else state.value = ev.code === 4401 ? 'unauthorized' : 'not-found'
    },
  })
  const failures = link.failures

  function reopen(): void {
    link.reconnect()
  }

  function start(): void {
    if (!stopped) return
    stopped = false
    link.open()
  }

  function stop(): void {
    stopped = true
    if (gapTimer) clearTimeout(gapTimer)
    gapTimer = null
    link.close()
    state.value = 'closed'
  }

  /** Show one attempt (null: follow the newest). Starts that attempt's log from its first line. */
  function pin(attempt: number | null): void {
    pinned.value = attempt
    buffer.reset(attempt ?? 0)
    started.value = false
    if (!stopped) reopen()
  }

  if (getCurrentScope()) onScopeDispose(stop)

  return { state, status, task, pinned, newestAttempt, failures, started, start, stop, pin, reopen }
}
