/**
 * useLogStream: a task's log over `/ws/tasks/{id}/logs/`, history then live, into a LogBuffer.
 *
 * The buffer's seq tracker drops duplicates and holds chunks past a gap; a gap still open after
 * `gapMs` is filled from REST. After a drop the socket is reopened with
 * `?attempt=<current>&after=<last seq held>` (exponential backoff), so nothing is fetched twice
 * and nothing is missed. Following the newest attempt (the default) switches the buffer when a
 * newer attempt starts; `pin(n)` shows one attempt only.
 *
 * Tail first: with `fetchPage`, opening a log asks the master for its last page (however long
 * the log) and the socket resumes after it, so a 1 GB log shows its end at once. `loadOlder`
 * puts the page before the window in front (scrolling up); `showLine(n)` detaches from the live
 * end and shows the page holding line n (`#L` links, search hits); `loadNewer` pages forward and
 * reattaches at the end; `toTail` goes back to the live end.
 */

import { getCurrentScope, onScopeDispose, ref, shallowRef } from 'vue'
import type { LogFrame, LogPage, Task, TaskStatus } from '../api/types'
import type { LogBuffer } from './useLogBuffer'
import { useReconnectingSocket } from './useReconnectingSocket'

export interface LogPageParams {
  attempt?: number
  after?: number
  before?: number
  line?: number
  tail?: 1
  limit: number
}

/** chunks per page when paging (the master also keeps a page to about 256 KiB) */
export const PAGE_CHUNKS = 1000

export type StreamState = 'connecting' | 'live' | 'reconnecting' | 'closed' | 'unauthorized' | 'not-found'

export interface LogStreamOptions {
  taskId: number
  buffer: LogBuffer
  /** ws URL for a path (same origin by default) */
  url: (path: string) => string
  /** REST page of chunks: to fill a gap (after), tail first (tail), older (before), a line (line) */
  fetchPage?: (params: LogPageParams) => Promise<LogPage>
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
  /** showing a page away from the live end: the socket is closed until `loadNewer` reaches it */
  const detached = ref(false)
  /** lines in the attempt shown, as the master last said (0 until a page said) */
  const totalLines = ref(0)
  const loading = ref(false)

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
    void openAtTail()
  }

  function take(page: LogPage): void {
    totalLines.value = page.total_lines ?? totalLines.value
    newestAttempt.value = Math.max(newestAttempt.value, page.attempt)
    status.value = page.status
  }

  /** The last page from REST, then the socket after it (or the socket alone without REST). */
  async function openAtTail(): Promise<void> {
    if (options.fetchPage) {
      loading.value = true
      try {
        const page = await options.fetchPage({ attempt: pinned.value ?? undefined, tail: 1, limit: PAGE_CHUNKS })
        if (stopped) return
        take(page)
        if (page.attempt > 0) {
          buffer.reset(page.attempt, page.chunks.length ? page.chunks[0].seq - 1 : -1)
          for (const c of page.chunks) buffer.push(c)
          buffer.flushAll()
          started.value = true
        }
      } catch {
        /* the socket sends the history instead */
      } finally {
        loading.value = false
      }
    }
    if (!stopped) link.open()
  }

  /** Put the page before the window in front. False at the first line (or when it cannot). */
  async function loadOlder(): Promise<boolean> {
    const first = buffer.firstSeq()
    if (!options.fetchPage || first <= 0 || loading.value) return false
    loading.value = true
    try {
      const page = await options.fetchPage({ attempt: buffer.attempt.value, before: first, limit: PAGE_CHUNKS })
      take(page)
      return buffer.attempt.value === page.attempt && buffer.prepend(page.chunks)
    } catch {
      return false
    } finally {
      loading.value = false
    }
  }

  /** Show the page holding line `line` (0-based): detach from the live end unless it is held. */
  async function showLine(line: number): Promise<boolean> {
    if (buffer.store.has(line)) return true
    if (!options.fetchPage) return false
    while (loading.value) await new Promise((resolve) => setTimeout(resolve, 20)) // a page on its way first
    if (buffer.store.has(line)) return true
    loading.value = true
    try {
      const attempt = buffer.attempt.value || undefined
      const page = await options.fetchPage({ attempt, line, limit: PAGE_CHUNKS })
      take(page)
      if (!page.chunks.length) return false
      detached.value = true
      link.close()
      buffer.reset(page.attempt, page.chunks[0].seq - 1)
      for (const c of page.chunks) buffer.push(c)
      buffer.flushAll()
      return buffer.store.has(line)
    } catch {
      return false
    } finally {
      loading.value = false
    }
  }

  /** Detached: the page after the window; at the live end, the socket resumes after it. */
  async function loadNewer(): Promise<boolean> {
    if (!detached.value || !options.fetchPage || loading.value) return false
    loading.value = true
    try {
      const page = await options.fetchPage({ attempt: buffer.attempt.value, after: buffer.lastSeq(), limit: PAGE_CHUNKS })
      take(page)
      for (const c of page.chunks) buffer.push(c)
      buffer.flushAll()
      if (!page.more) {
        detached.value = false
        if (!stopped) link.open()
      }
      return page.chunks.length > 0
    } catch {
      return false
    } finally {
      loading.value = false
    }
  }

  /** Back to the live end: the last page again, then the socket. */
  async function toTail(): Promise<void> {
    detached.value = false
    link.close()
    buffer.reset(0)
    if (!stopped) await openAtTail()
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
    detached.value = false
    buffer.reset(attempt ?? 0)
    started.value = false
    if (!stopped) {
      link.close()
      void openAtTail()
    }
  }

  if (getCurrentScope()) onScopeDispose(stop)

  return {
    state, status, task, pinned, newestAttempt, failures, started, detached, totalLines, loading,
    start, stop, pin, reopen, loadOlder, loadNewer, showLine, toTail,
  }
}
