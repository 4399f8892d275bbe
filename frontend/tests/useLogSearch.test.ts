import { describe, expect, it } from 'vitest'
import { ref } from 'vue'
import { useLogBuffer } from '../src/composables/useLogBuffer'
import { useLogSearch } from '../src/composables/useLogSearch'
import { STDERR } from '../src/lib/lineStore'
import { manualFrames } from './helpers'

function setup(accept?: ReturnType<typeof ref<((l: number) => boolean) | null>>, onFirstHit?: (line: number) => void) {
  const frames = manualFrames()
  const buffer = useLogBuffer({ raf: frames.raf, cancelRaf: frames.cancelRaf })
  buffer.reset(1)
  const deferred: Array<() => void> = []
  const search = useLogSearch(buffer, { debounceMs: 0, sliceMs: 0, defer: (fn) => deferred.push(fn), accept: accept as never, onFirstHit })
  const drain = () => {
    while (deferred.length) deferred.shift()!()
  }
  return { frames, buffer, search, drain }
}

describe('useLogSearch', () => {
  it('finds every line of the buffer that contains the text, case-insensitively, in slices', async () => {
    const { frames, buffer, search, drain } = setup()
    const text = Array.from({ length: 5000 }, (_, i) => (i % 1000 === 0 ? `ERROR at ${i}` : `ok ${i}`)).join('\n') + '\n'
    buffer.push({ attempt: 1, seq: 0, stream: 'stdout', data: text, ts: 1 })
    frames.frame()
    search.query.value = 'error'
    search.restart()
    drain()
    expect(search.searching.value).toBe(false)
    expect(search.count.value).toBe(5)
    expect(search.currentLine()).toBe(0)
    expect(search.next()).toBe(1000)
    expect(search.prev()).toBe(0)
    expect(search.prev()).toBe(4000) // wraps around
    expect(search.isMatch(3000)).toBe(true)
    expect(search.isMatch(3001)).toBe(false)
  })

  it('scans lines that arrive after the search', () => {
    const { frames, buffer, search, drain } = setup()
    search.query.value = 'needle'
    search.restart()
    drain()
    expect(search.count.value).toBe(0)
    buffer.push({ attempt: 1, seq: 0, stream: 'stdout', data: 'hay\nneedle\n', ts: 1 })
    frames.frame()
    expect(search.count.value).toBe(1)
    expect(search.next()).toBe(1)
  })

  it('treats the query as text, not a pattern, and respects the stream filter', () => {
    const only = ref<((l: number) => boolean) | null>(null)
    const { frames, buffer, search, drain } = setup(only)
    buffer.push({ attempt: 1, seq: 0, stream: 'stdout', data: 'a.b\naxb\n', ts: 1 })
    buffer.push({ attempt: 1, seq: 1, stream: 'stderr', data: 'a.b\n', ts: 1 })
    frames.frame()
    search.query.value = 'a.b'
    search.restart()
    drain()
    expect(search.count.value).toBe(2)
    only.value = (l) => buffer.store.stream(l) === STDERR
    search.restart()
    drain()
    expect(search.count.value).toBe(1)
    expect(search.currentLine()).toBe(2)
  })

  it('reports the first hit of each new query once, so the viewer can show it', () => {
    const hits: number[] = []
    const { frames, buffer, search, drain } = setup(undefined, (line) => hits.push(line))
    buffer.push({ attempt: 1, seq: 0, stream: 'stdout', data: 'alpha\nbeta\nalphabet\n', ts: 1 })
    frames.frame()
    search.query.value = 'alpha'
    search.restart()
    drain()
    expect(hits).toEqual([0])
    search.query.value = 'bet'
    search.restart()
    drain()
    expect(hits).toEqual([0, 1]) // a new query: its own first hit, even though the count never went to 0
    buffer.push({ attempt: 1, seq: 1, stream: 'stdout', data: 'bet again\n', ts: 1 })
    frames.frame()
    expect(hits).toEqual([0, 1]) // later hits do not move the view
  })
})
