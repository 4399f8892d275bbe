import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { UNDO_MS, useToastStore } from '../src/stores/toasts'

describe('undoable actions', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    vi.useFakeTimers()
  })
  afterEach(() => vi.useRealTimers())

  it('sends the action only once the grace period is over', async () => {
    const toasts = useToastStore()
    const run = vi.fn(async () => undefined)
    const apply = vi.fn()
    const done = toasts.undoable({ text: 'Cancelling task #1', run, apply, done: 'Cancelled.' })
    expect(apply).toHaveBeenCalledOnce()
    expect(toasts.toasts).toHaveLength(1)
    expect(toasts.toasts[0].deadline).not.toBeNull()
    await vi.advanceTimersByTimeAsync(UNDO_MS - 1)
    expect(run).not.toHaveBeenCalled()
    await vi.advanceTimersByTimeAsync(1)
    expect(run).toHaveBeenCalledOnce()
    await expect(done).resolves.toBe(true)
    expect(toasts.toasts.map((t) => t.text)).toEqual(['Cancelled.'])
  })

  it('undo within the period sends nothing and takes back what was shown', async () => {
    const toasts = useToastStore()
    const run = vi.fn(async () => undefined)
    const revert = vi.fn()
    const done = toasts.undoable({ text: 'Draining small', run, revert })
    await vi.advanceTimersByTimeAsync(3000)
    toasts.toasts[0].undo!()
    await vi.advanceTimersByTimeAsync(60_000)
    expect(run).not.toHaveBeenCalled()
    expect(revert).toHaveBeenCalledOnce()
    await expect(done).resolves.toBe(false)
    expect(toasts.toasts).toHaveLength(0)
  })

  it('a refused action is reverted and says why', async () => {
    const toasts = useToastStore()
    const revert = vi.fn()
    const done = toasts.undoable({ text: 'x', run: async () => Promise.reject(new Error('409 already finished')), revert, failed: (e) => `No: ${e.message}` })
    await vi.advanceTimersByTimeAsync(UNDO_MS)
    await expect(done).resolves.toBe(false)
    expect(revert).toHaveBeenCalledOnce()
    expect(toasts.toasts[0]).toMatchObject({ tone: 'error', text: 'No: 409 already finished' })
  })
})
