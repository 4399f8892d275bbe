/**
 * useEventsSocket: the live cluster stream (`/ws/events/`) with its fallback.
 *
 * While the socket is up, frames go to `onTasks` / `onNodes` and a ping keeps it alive. When it
 * drops, `poll` (the REST lists) runs every `pollMs` so the screen stays current, and the socket
 * is retried with exponential backoff; `state` drives the visible connection indicator.
 */

import { getCurrentScope, onScopeDispose, ref } from 'vue'
import type { ClusterNode, EventsFrame, NodeUsage, Task } from '../api/types'
import { useReconnectingSocket } from './useReconnectingSocket'

export type ConnectionState = 'connecting' | 'live' | 'polling' | 'closed' | 'unauthorized'

export interface EventsSocketOptions {
  url: string | (() => string)
  onTasks?: (tasks: Task[]) => void
  onNodes?: (nodes: ClusterNode[]) => void
  /** partial updates (id, usage, last heartbeat) from heartbeats */
  onUsage?: (usage: NodeUsage[]) => void
  /** any other frame type (e.g. history samples) */
  onFrame?: (frame: EventsFrame) => void
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
  /** no frame (not even a pong) for this long: the link is dead, reconnect (default 3 pings) */
  idleMs?: number
  WebSocketImpl?: typeof WebSocket
  random?: () => number
}

export function useEventsSocket(options: EventsSocketOptions) {
  const pollMs = options.pollMs ?? 3000
  const pingMs = options.pingMs ?? 20_000
  const state = ref<ConnectionState>('closed')
  let pollTimer: ReturnType<typeof setInterval> | null = null
  let reconcileTimer: ReturnType<typeof setInterval> | null = null
  let lastReconcile = 0
  let running = false

  const link = useReconnectingSocket({
    url: options.url,
    WebSocketImpl: options.WebSocketImpl,
    random: options.random,
    heartbeat: { message: '{"type":"ping"}', interval: pingMs },
    idleMs: options.idleMs ?? pingMs * 3,
    shouldReconnect: (ev) => ev.code !== 4401,
    onMessage: (data) => {
      try {
        handle(JSON.parse(data) as EventsFrame)
      } catch {
        /* a frame we do not understand is ignored */
      }
    },
    onClose: (_ev, retryIn) => {
      if (retryIn === null) {
        state.value = 'unauthorized'
        return
      }
      state.value = 'polling'
      startPolling()
    },
  })

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

  function handle(frame: EventsFrame): void {
    if (frame.type === 'tasks') options.onTasks?.(frame.tasks)
    else if (frame.type === 'nodes') options.onNodes?.(frame.nodes)
    else if (frame.type === 'usage') options.onUsage?.(frame.nodes)
    else if (frame.type === 'hello') {
      state.value = 'live'
      stopPolling()
      runPoll() // catch up on what happened while we were away
    } else options.onFrame?.(frame)
  }

  function start(): void {
    if (running) return
    running = true
    state.value = 'connecting'
    startReconcile()
    link.open()
  }

  function stop(): void {
    running = false
    link.close()
    stopPolling()
    stopReconcile()
    state.value = 'closed'
  }

  /** Retry now (the indicator's "reconnect" button); "polling" shows until the socket says hello. */
  function reconnect(): void {
    if (state.value !== 'polling') state.value = 'connecting'
    link.reconnect()
  }

  if (getCurrentScope()) onScopeDispose(stop)

  return { state, failures: link.failures, lastMessageAt: link.lastMessageAt, nextRetryAt: link.nextRetryAt, start, stop, reconnect }
}
