/**
 * useReconnectingSocket: one WebSocket kept open, the single reconnect loop of the dashboard
 * (VueUse's useWebSocket is the model). It owns the socket's life: `status`, reconnecting with
 * exponential backoff and jitter, a heartbeat message while open, idle detection (no frame for
 * `idleMs`: the link is presumed dead, closed and reopened), and `send`, which buffers until the
 * socket is open. Callers only read frames and decide what a close code means.
 */

import { getCurrentScope, onScopeDispose, ref, shallowRef } from 'vue'
import { backoffDelay } from '../lib/backoff'

export type SocketStatus = 'idle' | 'connecting' | 'open' | 'retrying' | 'closed'

export interface ReconnectingSocketOptions {
  /** the URL to open, read at every (re)connect (a resumed stream names where it stopped) */
  url: string | (() => string)
  /** a text frame arrived on the current socket */
  onMessage?: (data: string) => void
  onOpen?: () => void
  /**
   * The current socket closed (not by `close()`/`reconnect()`). `retryIn` is the delay before the
   * next try in ms, or null when no retry follows (`shouldReconnect` said no).
   */
  onClose?: (ev: CloseEvent, retryIn: number | null) => void
  /** whether a close is worth retrying (default: always); e.g. not after "unauthorized" */
  shouldReconnect?: (ev: CloseEvent) => boolean
  /** delay before the n-th consecutive retry (0-based); default exponential 0.5 s → 15 s, ±25 % */
  delay?: (failures: number) => number
  /** sent every `interval` ms while open */
  heartbeat?: { message: string; interval: number }
  /** no frame for this long while open: close and reconnect (0/undefined: never) */
  idleMs?: number
  /** most frames `send` keeps while not open (oldest dropped first) */
  bufferLimit?: number
  WebSocketImpl?: typeof WebSocket
  random?: () => number
}

export function useReconnectingSocket(options: ReconnectingSocketOptions) {
  const WS = options.WebSocketImpl ?? WebSocket
  const status = ref<SocketStatus>('idle')
  /** consecutive failed tries; back to 0 once a frame arrives on a new socket */
  const failures = ref(0)
  const lastMessageAt = ref<number | null>(null)
  const nextRetryAt = ref<number | null>(null)
  const socket = shallowRef<WebSocket | null>(null)
  const pending: string[] = []
  const limit = options.bufferLimit ?? 100
  let retryTimer: ReturnType<typeof setTimeout> | null = null
  let beatTimer: ReturnType<typeof setInterval> | null = null
  let idleTimer: ReturnType<typeof setTimeout> | null = null
  let heard = false
  let active = false

  function delayFor(n: number): number {
    return options.delay ? options.delay(n) : backoffDelay(n, { random: options.random })
  }

  function clearTimers(): void {
    if (retryTimer) clearTimeout(retryTimer)
    if (beatTimer) clearInterval(beatTimer)
    if (idleTimer) clearTimeout(idleTimer)
    retryTimer = beatTimer = idleTimer = null
  }

  function armIdle(ws: WebSocket): void {
    if (!options.idleMs) return
    if (idleTimer) clearTimeout(idleTimer)
    // a silent link (a dead TCP connection sends no close) counts as a drop
    idleTimer = setTimeout(() => socket.value === ws && dropped(ws, { code: 4000, reason: 'idle' } as CloseEvent), options.idleMs)
  }

  function connect(): void {
    retryTimer = null
    nextRetryAt.value = null
    if (!active) return
    status.value = 'connecting'
    heard = false
    const url = typeof options.url === 'function' ? options.url() : options.url
    const ws = new WS(url)
    socket.value = ws
    ws.onopen = () => {
      if (socket.value !== ws) return
      status.value = 'open'
      while (pending.length && ws.readyState === 1) ws.send(pending.shift()!)
      if (options.heartbeat) {
        const { message, interval } = options.heartbeat
        beatTimer = setInterval(() => ws.readyState === 1 && ws.send(message), interval)
      }
      armIdle(ws)
      options.onOpen?.()
    }
    ws.onmessage = (ev: MessageEvent) => {
      if (socket.value !== ws) return
      lastMessageAt.value = Date.now()
      if (!heard) {
        heard = true
        failures.value = 0
        // a socket may report frames before `open` in tests and odd proxies: it is open
        if (status.value === 'connecting') status.value = 'open'
      }
      armIdle(ws)
      options.onMessage?.(String(ev.data))
    }
    ws.onclose = (ev: CloseEvent) => {
      if (socket.value === ws) dropped(ws, ev)
    }
  }

  function dropped(ws: WebSocket, ev: CloseEvent): void {
    socket.value = null
    clearTimers()
    if (ws.readyState < 2) ws.close()
    if (!active) return
    if (options.shouldReconnect && !options.shouldReconnect(ev)) {
      status.value = 'closed'
      options.onClose?.(ev, null)
      return
    }
    const wait = delayFor(failures.value)
    failures.value++
    status.value = 'retrying'
    nextRetryAt.value = Date.now() + wait
    retryTimer = setTimeout(connect, wait)
    options.onClose?.(ev, wait)
  }

  function detach(): void {
    clearTimers()
    const ws = socket.value
    socket.value = null
    ws?.close()
  }

  /** Open (no-op while already running). */
  function open(): void {
    if (active) return
    active = true
    connect()
  }

  /** Close for good: no retry until `open()`. */
  function close(): void {
    active = false
    detach()
    pending.length = 0
    nextRetryAt.value = null
    status.value = 'closed'
  }

  /** Close the current socket (if any) and open a new one now, without counting a failure. */
  function reconnect(): void {
    if (!active) return
    detach()
    connect()
  }

  /** Send now if open, else keep it for when the socket opens. */
  function send(data: string): boolean {
    const ws = socket.value
    if (ws && ws.readyState === 1) {
      ws.send(data)
      return true
    }
    pending.push(data)
    if (pending.length > limit) pending.shift()
    return false
  }

  if (getCurrentScope()) onScopeDispose(close)

  return { status, failures, lastMessageAt, nextRetryAt, socket, open, close, reconnect, send }
}

export type ReconnectingSocket = ReturnType<typeof useReconnectingSocket>
