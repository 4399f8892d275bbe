/**
 * useEventsSocket: the live cluster stream (`/ws/events/`) with its fallback.
 *
 * While the socket is up, frames go to `onTasks` / `onNodes` and a ping keeps it alive. When it
 * drops, `poll` (the REST lists) runs every `pollMs` so the screen stays current, and the socket
 * is retried with exponential backoff; `state` drives the visible connection indicator.
 */

import { getCurrentScope, onScopeDispose, ref } from 'vue'
import type { ClusterNode, EventsFrame, NodeUsage, Task } from '../api/types'
import { backoffDelay } from '../lib/backoff'

export type ConnectionState = 'connecting' | 'live' | 'polling' | 'closed' | 'unauthorized'

export interface EventsSocketOptions {
  url: string | (() => string)
  onTasks?: (tasks: Task[]) => void
  onNodes?: (nodes: ClusterNode[]) => void
  /** partial updates (id, usage, last heartbeat) from heartbeats */
  onUsage?: (usage: NodeUsage[]) => void
  /** refresh everything from REST: after (re)connecting and while the socket is down */
  poll?: () => Promise<unknown> | void
  pollMs?: number
  /** what to re-read while live (default: `poll`) */
  reconcile?: () => Promise<unknown> | void
  /**
   * While live, also call `reconcile` every this many ms (a function: decided at each tick).
   * Pushes only nudge: a frame lost between processes must cost latency, never a wrong screen.
   */
  reconcileMs?: number | (() => number)
  pingMs?: number
  WebSocketImpl?: typeof WebSocket
  random?: () => number
}

export function useEventsSocket(options: EventsSocketOptions) {
  const WS = options.WebSocketImpl ?? WebSocket
  const pollMs = options.pollMs ?? 3000
  const pingMs = options.pingMs ?? 20_000
  const state = ref<ConnectionState>('closed')
  const failures = ref(0)
  const lastMessageAt = ref<number | null>(null)
  const nextRetryAt = ref<number | null>(null)
  let socket: WebSocket | null = null
  let retryTimer: ReturnType<typeof setTimeout> | null = null
  let pollTimer: ReturnType<typeof setInterval> | null = null
  let pingTimer: ReturnType<typeof setInterval> | null = null
  let reconcileTimer: ReturnType<typeof setInterval> | null = null
  let lastReconcile = 0
  let stopped = true

  function runPoll(): void {
    lastReconcile = Date.now()
    void options.poll?.()
  }

  function startReconcile(): void {
    const reconcile = options.reconcile ?? options.poll
    if (reconcileTimer || !options.reconcileMs || !reconcile) return
    reconcileTimer = setInterval(() => {
      const every = typeof options.reconcileMs === 'function' ? options.reconcileMs() : (options.reconcileMs ?? 0)
      if (state.value === 'live' && every > 0 && Date.now() - lastReconcile >= every) {
        lastReconcile = Date.now()
        void reconcile()
      }
    }, 500)
  }

  function stopReconcile(): void {
    if (reconcileTimer) clearInterval(reconcileTimer)
    reconcileTimer = null
  }

  function startPolling(): void {
    if (pollTimer || !options.poll) return
    pollTimer = setInterval(runPoll, pollMs)
  }

  function stopPolling(): void {
    if (pollTimer) clearInterval(pollTimer)
    pollTimer = null
  }

  function clearPing(): void {
    if (pingTimer) clearInterval(pingTimer)
    pingTimer = null
  }

  function handle(frame: EventsFrame): void {
    lastMessageAt.value = Date.now()
    if (frame.type === 'tasks') options.onTasks?.(frame.tasks)
    else if (frame.type === 'nodes') options.onNodes?.(frame.nodes)
    else if (frame.type === 'usage') options.onUsage?.(frame.nodes)
    else if (frame.type === 'hello') {
      state.value = 'live'
      failures.value = 0
      stopPolling()
      runPoll() // catch up on what happened while we were away
    }
  }

  function connect(): void {
    retryTimer = null
    nextRetryAt.value = null
    if (stopped) return
    if (state.value !== 'polling') state.value = 'connecting'
    const url = typeof options.url === 'function' ? options.url() : options.url
    const ws = new WS(url)
    socket = ws
    ws.onmessage = (ev: MessageEvent) => {
      if (socket !== ws) return
      try {
        handle(JSON.parse(String(ev.data)) as EventsFrame)
      } catch {
        /* a frame we do not understand is ignored */
      }
    }
    ws.onopen = () => {
      clearPing()
      pingTimer = setInterval(() => ws.readyState === 1 && ws.send('{"type":"ping"}'), pingMs)
    }
    ws.onclose = (ev: CloseEvent) => {
      if (socket !== ws) return
      socket = null
      clearPing()
      if (stopped) return
      if (ev.code === 4401) {
        state.value = 'unauthorized'
        return
      }
      failures.value++
      state.value = 'polling'
      startPolling()
      const delay = backoffDelay(failures.value - 1, { random: options.random })
      nextRetryAt.value = Date.now() + delay
      retryTimer = setTimeout(connect, delay)
    }
  }

  function start(): void {
    if (!stopped) return
    stopped = false
    startReconcile()
    connect()
  }

  function stop(): void {
    stopped = true
    if (retryTimer) clearTimeout(retryTimer)
    retryTimer = null
    stopPolling()
    stopReconcile()
    clearPing()
    const ws = socket
    socket = null
    ws?.close()
    state.value = 'closed'
  }

  /** Retry now (the indicator's "reconnect" button). */
  function reconnect(): void {
    if (stopped) return
    if (retryTimer) clearTimeout(retryTimer)
    const ws = socket
    socket = null
    ws?.close()
    connect()
  }

  if (getCurrentScope()) onScopeDispose(stop)

  return { state, failures, lastMessageAt, nextRetryAt, start, stop, reconnect }
}
