import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ApiError, request, resetRetryAfter, retryAfterMs } from '../src/api/client'

function answer(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } })
}

const BUSY = { detail: 'The master is busy; retry later.', code: 'overloaded' }

describe('the fetch wrapper honours Retry-After', () => {
  let fetchMock: ReturnType<typeof vi.fn>
  beforeEach(() => {
    vi.useFakeTimers()
    resetRetryAfter()
    fetchMock = vi.fn()
    vi.stubGlobal('fetch', fetchMock)
  })
  afterEach(() => {
    vi.useRealTimers()
    vi.unstubAllGlobals()
  })

  it('reads delay-seconds and HTTP dates, capped at 30 s', () => {
    expect(retryAfterMs('2')).toBe(2000)
    expect(retryAfterMs(null)).toBeNull()
    expect(retryAfterMs('soon')).toBeNull()
    expect(retryAfterMs('3600')).toBe(30_000)
    expect(retryAfterMs(new Date(10_000).toUTCString(), 5_000)).toBe(5_000)
  })

  it('tries a GET again after the delay the 503 asked for, and returns the answer', async () => {
    fetchMock.mockResolvedValueOnce(answer(503, BUSY, { 'Retry-After': '2' })).mockResolvedValueOnce(answer(200, { ok: 1 }))
    const result = request<{ ok: number }>('GET', '/api/v1/nodes')
    await vi.advanceTimersByTimeAsync(1900)
    expect(fetchMock).toHaveBeenCalledTimes(1) // not before the 2 s
    await vi.advanceTimersByTimeAsync(200)
    expect(await result).toEqual({ ok: 1 })
    expect(fetchMock).toHaveBeenCalledTimes(2)
  })

  it('does not repeat a write; the error says when to retry, and the next request waits until then', async () => {
    fetchMock.mockResolvedValueOnce(answer(503, BUSY, { 'Retry-After': '1' })).mockResolvedValueOnce(answer(200, {}))
    const error = (await request('POST', '/api/v1/tasks', { command: 'true' }).catch((e: ApiError) => e)) as ApiError
    expect(error).toBeInstanceOf(ApiError)
    expect(error.status).toBe(503)
    expect(error.retryAfter).toBe(1000)
    expect(fetchMock).toHaveBeenCalledTimes(1)
    const next = request('GET', '/api/v1/tasks')
    await vi.advanceTimersByTimeAsync(500)
    expect(fetchMock).toHaveBeenCalledTimes(1)
    await vi.advanceTimersByTimeAsync(600)
    await next
    expect(fetchMock).toHaveBeenCalledTimes(2)
  })

  it('gives up on a GET after three retries and reports the 503', async () => {
    fetchMock.mockImplementation(async () => answer(503, BUSY, { 'Retry-After': '1' }))
    const result = request('GET', '/api/v1/tasks').catch((e: ApiError) => e)
    await vi.advanceTimersByTimeAsync(5000)
    const error = (await result) as ApiError
    expect(error.status).toBe(503)
    expect(fetchMock).toHaveBeenCalledTimes(4)
  })

  it('a 503 without Retry-After is an ordinary error, not retried', async () => {
    fetchMock.mockResolvedValueOnce(answer(503, { detail: 'down' }))
    const error = (await request('GET', '/api/v1/tasks').catch((e: ApiError) => e)) as ApiError
    expect(error.status).toBe(503)
    expect(error.retryAfter).toBeNull()
    expect(fetchMock).toHaveBeenCalledTimes(1)
  })
})
