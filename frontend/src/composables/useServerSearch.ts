/**
 * useServerSearch: the whole log searched by the master (`GET /tasks/{id}/logs/search`), every
 * attempt and both streams, not only the lines the browser holds. Debounced as the query is typed;
 * `total` is the count over the whole log; `next`/`prev` walk the matches (more pages are asked
 * for as needed) and return the match to show, which the viewer loads when it is not held.
 */

import { getCurrentScope, onScopeDispose, ref, shallowRef, watch, type Ref } from 'vue'
import type { LogSearchMatch, LogSearchPage } from '../api/types'

export type SearchFetch = (params: { q: string; offset: number; limit: number }) => Promise<LogSearchPage>

export interface ServerSearchOptions {
  debounceMs?: number
  pageSize?: number
}

export function useServerSearch(query: Ref<string>, fetchPage: SearchFetch, options: ServerSearchOptions = {}) {
  const debounceMs = options.debounceMs ?? 250
  const pageSize = options.pageSize ?? 500
  const total = ref(0)
  const current = ref(-1)
  const searching = ref(false)
  const complete = ref(true)
  const error = ref<string | null>(null)
  const matches = shallowRef<LogSearchMatch[]>([])
  let timer: ReturnType<typeof setTimeout> | null = null
  let run = 0

  async function load(q: string, offset: number, mine: number): Promise<boolean> {
    const page = await fetchPage({ q, offset, limit: pageSize })
    if (mine !== run) return false
    total.value = page.total
    complete.value = page.complete
    matches.value = offset === 0 ? page.matches : [...matches.value, ...page.matches]
    return true
  }

  async function start(q: string): Promise<void> {
    const mine = ++run
    current.value = -1
    matches.value = []
    total.value = 0
    error.value = null
    if (!q) {
      searching.value = false
      return
    }
    searching.value = true
    try {
      await load(q, 0, mine)
    } catch (e) {
      if (mine === run) error.value = e instanceof Error ? e.message : String(e)
    } finally {
      if (mine === run) searching.value = false
    }
  }

  watch(query, (q) => {
    if (timer) clearTimeout(timer)
    timer = setTimeout(() => void start(q.trim()), debounceMs)
  })

  /** The next match (wrapping), loading the next page of matches when needed. */
  async function next(): Promise<LogSearchMatch | null> {
    if (!total.value) return null
    let k = current.value + 1
    if (k >= total.value) k = 0
    if (k >= matches.value.length) {
      try {
        await load(query.value.trim(), matches.value.length, run)
      } catch {
        return null
      }
      if (k >= matches.value.length) k = 0
    }
    current.value = k
    return matches.value[k] ?? null
  }

  async function prev(): Promise<LogSearchMatch | null> {
    if (!total.value) return null
    let k = current.value - 1
    if (k < 0) k = matches.value.length - 1
    current.value = k
    return matches.value[k] ?? null
  }

  if (getCurrentScope()) onScopeDispose(() => timer && clearTimeout(timer))

  return { total, current, searching, complete, error, matches, next, prev, start }
}

export type ServerSearch = ReturnType<typeof useServerSearch>
