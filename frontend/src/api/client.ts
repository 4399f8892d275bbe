/** Same-origin fetch for API v1: session cookie, CSRF header on writes, errors as ApiError. */

import type { ArrayCreated, ClusterHistory, ClusterNode, LogPage, LogSearchPage, Me, MyQuotas, NodeDetail, NodeHistory, Page, Quota, SubmitRequest, Task, TaskArray, TaskDetail } from './types'

export class ApiError extends Error {
  /** ms the server asked to wait before trying again (503/429 with Retry-After), else null */
  retryAfter: number | null = null

  constructor(
    readonly status: number,
    readonly data: Record<string, unknown> | null,
  ) {
    super(ApiError.describe(status, data))
  }

  static describe(status: number, data: Record<string, unknown> | null): string {
    if (data && typeof data.detail === 'string') return data.detail
    if (status === 503) return 'The server is busy; try again in a moment.'
    if (data && Array.isArray(data.non_field_errors)) return String(data.non_field_errors[0])
    if (status === 0) return 'The server cannot be reached.'
    return `Request failed (HTTP ${status}).`
  }

  /** Field errors of a 400: {field: ["message", ...]}. */
  get fields(): Record<string, string[]> {
    const out: Record<string, string[]> = {}
    if (this.status !== 400 || !this.data) return out
    for (const [k, v] of Object.entries(this.data)) {
      if (Array.isArray(v)) out[k] = v.map(String)
      else if (typeof v === 'string') out[k] = [v]
      else if (v && typeof v === 'object') out[k] = Object.entries(v).map(([kk, vv]) => `${kk}: ${String(vv)}`)
    }
    return out
  }
}

let onUnauthorized: (() => void) | null = null

/** Called on any 401 (the session ended): the auth store sends the user to the login page. */
export function setUnauthorizedHandler(fn: () => void): void {
  onUnauthorized = fn
}

export function csrfToken(): string {
  const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/)
  return m ? decodeURIComponent(m[1]) : ''
}

/**
 * Retry-After: a 503 (the master sheds load, or its database is unavailable) or a 429 says when
 * to come back. Every request waits until then (polling stops hammering a busy master), and a GET
 * is tried again, at most `RETRIES` times; a write is not repeated behind the user's back: its
 * ApiError carries `retryAfter` and the message says when to try.
 */
const RETRIES = 3
const MAX_WAIT_MS = 30_000
let notBefore = 0

/** Seconds of a Retry-After header (delay-seconds or an HTTP date), capped; null when absent. */
export function retryAfterMs(value: string | null, now = Date.now()): number | null {
  if (!value) return null
  const seconds = Number(value)
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(value) - now
  return Number.isFinite(ms) ? Math.min(MAX_WAIT_MS, Math.max(0, ms)) : null
}

/** for tests: forget a previous answer's Retry-After */
export function resetRetryAfter(): void {
  notBefore = 0
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

export async function request<T>(method: string, path: string, body?: unknown, { quiet401 = false } = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' }
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  if (method !== 'GET') headers['X-CSRFToken'] = csrfToken()
  let response: Response
  for (let attempt = 0; ; attempt++) {
    const wait = notBefore - Date.now()
    if (wait > 0) await sleep(wait)
    try {
      response = await fetch(path, {
        method,
        headers,
        credentials: 'same-origin',
        body: body === undefined ? undefined : JSON.stringify(body),
      })
    } catch {
      throw new ApiError(0, null)
    }
    const retryIn = response.status === 503 || response.status === 429
      ? retryAfterMs(response.headers.get('Retry-After')) : null
    if (retryIn === null) break
    notBefore = Math.max(notBefore, Date.now() + retryIn)
    if (method !== 'GET' || attempt >= RETRIES) break
  }
  if (response.status === 204) return undefined as T
  let data: unknown = null
  const type = response.headers.get('content-type') ?? ''
  if (type.includes('json')) data = await response.json().catch(() => null)
  if (!response.ok) {
    if (response.status === 401 && !quiet401) onUnauthorized?.()
    const error = new ApiError(response.status, (data as Record<string, unknown>) ?? null)
    error.retryAfter = retryAfterMs(response.headers.get('Retry-After'))
    throw error
  }
  return data as T
}

function qs(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v))
  const s = q.toString()
  return s ? `?${s}` : ''
}

export const api = {
  me: () => request<Me>('GET', '/api/v1/auth/me', undefined, { quiet401: true }),
  login: (username: string, password: string) =>
    request<Me>('POST', '/api/v1/auth/login', { username, password }, { quiet401: true }),
  logout: () => request<void>('POST', '/api/v1/auth/logout'),
  tasks: (params: { status?: string; node?: string; page?: number; page_size?: number } = {}) =>
    request<Page<Task>>('GET', `/api/v1/tasks${qs(params)}`),
  /** cursor pages (no count): `cursor` '' for the first, then each page's next_cursor */
  searchTasks: ({ cursor, ...params }: { status?: string; node?: string; owner?: string; q?: string; array?: string; cursor: string; page_size?: number }) => {
    const query = qs(params)
    return request<Page<Task>>('GET', `/api/v1/tasks${query ? `${query}&` : '?'}cursor=${encodeURIComponent(cursor)}`)
  },
  rerun: (id: number) => request<TaskDetail>('POST', `/api/v1/tasks/${id}/rerun`),
  history: (params: { series?: string; since?: string; step?: number }) =>
    request<ClusterHistory>('GET', `/api/v1/metrics/history${qs(params)}`),
  nodeHistory: (ids: number[], params: { since?: string; step?: number } = {}) =>
    request<NodeHistory>('GET', `/api/v1/metrics/history${qs({ node: ids.join(','), ...params })}`),
  task: (id: number | string) => request<TaskDetail>('GET', `/api/v1/tasks/${id}`),
  submit: (body: SubmitRequest) => request<TaskDetail | ArrayCreated>('POST', '/api/v1/tasks', body),
  array: (id: number) => request<TaskArray>('GET', `/api/v1/arrays/${id}`),
  cancelArray: (id: number) => request<TaskArray>('POST', `/api/v1/arrays/${id}/cancel`),
  cancel: (id: number) => request<TaskDetail>('POST', `/api/v1/tasks/${id}/cancel`),
  logs: (id: number, params: { attempt?: number; after?: number; before?: number; line?: number; tail?: 1; limit?: number } = {}) =>
    request<LogPage>('GET', `/api/v1/tasks/${id}/logs${qs(params)}`),
  searchLogs: (id: number, params: { q: string; regex?: 1; attempt?: number; stream?: string; offset?: number; limit?: number }) =>
    request<LogSearchPage>('GET', `/api/v1/tasks/${id}/logs/search${qs(params)}`),
  rawLogUrl: (id: number, attempt?: number) => `/api/v1/tasks/${id}/logs/raw${qs({ attempt })}`,
  nodes: (params: { status?: string; page_size?: number } = {}) =>
    request<Page<ClusterNode>>('GET', `/api/v1/nodes${qs({ page_size: 1000, ...params })}`),
  node: (id: number | string) => request<NodeDetail>('GET', `/api/v1/nodes/${id}`),
  drain: (id: number) => request<ClusterNode>('POST', `/api/v1/nodes/${id}/drain`),
  undrain: (id: number) => request<ClusterNode>('POST', `/api/v1/nodes/${id}/undrain`),
  /** many users (issue 17): every quota with what it uses now, and the signed-in user's own */
  quotas: () => request<{ results: Quota[] }>('GET', '/api/v1/quotas'),
  myQuotas: () => request<MyQuotas>('GET', '/api/v1/quotas/me'),
}

export function wsUrl(path: string): string {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:'
  return `${proto}//${location.host}${path}`
}
