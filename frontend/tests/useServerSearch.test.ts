import { describe, expect, it, vi } from 'vitest'
import { effectScope, nextTick, ref } from 'vue'
import type { LogSearchPage } from '../src/api/types'
import { useServerSearch } from '../src/composables/useServerSearch'

function page(q: string, offset: number, limit: number, total: number): LogSearchPage {
  const matches = []
  for (let i = offset; i < Math.min(total, offset + limit); i++) {
    matches.push({ attempt: 1, line: i * 10, stream: 'stdout' as const, ts: 1, text: `${q} ${i}` })
  }
  return { task: 1, q, total, complete: true, offset, matches }
}

describe('useServerSearch', () => {
  it('counts the whole log and walks its matches, loading further pages', async () => {
    vi.useFakeTimers()
    const fetch = vi.fn(async ({ q, offset, limit }: { q: string; offset: number; limit: number }) => page(q, offset, limit, 5))
    const scope = effectScope()
    const query = ref('')
    const search = scope.run(() => useServerSearch(query, fetch, { debounceMs: 10, pageSize: 2 }))!
    query.value = 'needle'
    await nextTick()
    await vi.advanceTimersByTimeAsync(20)
    expect(search.total.value).toBe(5)
    expect(fetch).toHaveBeenCalledWith({ q: 'needle', offset: 0, limit: 2 })
    const seen = []
    for (let i = 0; i < 6; i++) seen.push((await search.next())?.line)
    expect(seen).toEqual([0, 10, 20, 30, 40, 0])
    expect(fetch).toHaveBeenCalledWith({ q: 'needle', offset: 4, limit: 2 })
    expect((await search.prev())?.line).toBe(40)
    scope.stop()
    vi.useRealTimers()
  })

  it('an empty query asks nothing and a failing one reports its error', async () => {
    vi.useFakeTimers()
    const fetch = vi.fn(async () => {
      throw new Error('q: Not a valid regular expression')
    })
    const scope = effectScope()
    const query = ref('')
    const search = scope.run(() => useServerSearch(query, fetch, { debounceMs: 10 }))!
    query.value = '   '
    await nextTick()
    await vi.advanceTimersByTimeAsync(20)
    expect(fetch).not.toHaveBeenCalled()
    query.value = '('
    await nextTick()
    await vi.advanceTimersByTimeAsync(20)
    expect(search.error.value).toContain('regular expression')
    expect(search.total.value).toBe(0)
    expect(await search.next()).toBeNull()
    scope.stop()
    vi.useRealTimers()
  })
})
