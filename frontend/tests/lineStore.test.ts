import { describe, expect, it } from 'vitest'
import { LineStore, STDERR, STDOUT } from '../src/lib/lineStore'

function texts(store: LineStore): string[] {
  const out: string[] = []
  for (let i = store.base; i < store.end; i++) out.push(store.text(i))
  return out
}

describe('LineStore', () => {
  it('splits a chunk into lines once, dropping the trailing newline', () => {
    const s = new LineStore()
    const r = s.append(STDOUT, 'a\nb\nc\n', 1)
    expect(r.added).toBe(3)
    expect(texts(s)).toEqual(['a', 'b', 'c'])
    expect(s.isOpen(2)).toBe(false)
  })

  it('joins a partial line with the next chunk of the same stream', () => {
    const s = new LineStore()
    s.append(STDOUT, 'hel', 1)
    expect(texts(s)).toEqual(['hel'])
    expect(s.isOpen(0)).toBe(true)
    const r = s.append(STDOUT, 'lo\nwor', 2)
    expect(r).toEqual({ added: 1, extended: 0 })
    s.append(STDOUT, 'ld\n', 3)
    expect(texts(s)).toEqual(['hello', 'world'])
    expect(s.isOpen(1)).toBe(false)
  })

  it('keeps stdout and stderr partial lines apart when their chunks interleave', () => {
    const s = new LineStore()
    s.append(STDOUT, 'progress 1', 1)
    s.append(STDERR, 'warn: ', 1)
    s.append(STDOUT, '0%\n', 2)
    s.append(STDERR, 'disk\nerr2\n', 2)
    expect(texts(s)).toEqual(['progress 10%', 'warn: disk', 'err2'])
    expect([s.stream(0), s.stream(1), s.stream(2)]).toEqual([STDOUT, STDERR, STDERR])
  })

  it('starts a new line after a chunk that ended exactly at a newline', () => {
    const s = new LineStore()
    s.append(STDOUT, 'one\n', 1)
    s.append(STDOUT, 'two', 1)
    expect(texts(s)).toEqual(['one', 'two'])
  })

  it('strips the CR of CRLF line ends', () => {
    const s = new LineStore()
    s.append(STDOUT, 'a\r\nb\r', 1)
    s.append(STDOUT, '\n', 1)
    expect(texts(s)).toEqual(['a', 'b'])
  })

  it('keeps the chunk timestamp per line', () => {
    const s = new LineStore()
    s.append(STDOUT, 'x\ny\n', 100.5)
    s.append(STDOUT, 'z\n', 101.25)
    expect([s.ts(0), s.ts(1), s.ts(2)]).toEqual([100.5, 100.5, 101.25])
  })

  it('drops the oldest segment past the line cap, keeping absolute line numbers', () => {
    const s = new LineStore({ cap: 8, segBits: 2 }) // segments of 4 lines, cap 8
    for (let i = 0; i < 10; i++) s.append(STDOUT, `l${i}\n`, i)
    expect(s.dropped).toBe(4)
    expect(s.base).toBe(4)
    expect(s.end).toBe(10)
    expect(s.size).toBe(6)
    expect(s.text(4)).toBe('l4')
    expect(s.has(3)).toBe(false)
  })

  it('drops by character budget too', () => {
    const s = new LineStore({ cap: 1000, charBudget: 20, segBits: 2 })
    for (let i = 0; i < 8; i++) s.append(STDOUT, 'abcde\n', i) // 5 chars each
    expect(s.chars).toBeLessThanOrEqual(20)
    expect(s.dropped).toBe(4)
  })

  it('holds a million lines', () => {
    const s = new LineStore()
    const chunk = Array.from({ length: 1000 }, (_, i) => `line ${i}`).join('\n') + '\n'
    for (let c = 0; c < 1000; c++) s.append(STDOUT, chunk, c)
    expect(s.size).toBe(1_000_000)
    expect(s.text(999_999)).toBe('line 999')
    s.append(STDOUT, 'one more\n', 0)
    expect(s.dropped).toBe(65536)
    expect(s.text(s.end - 1)).toBe('one more')
  })
})

describe('LineStore.search', () => {
  function found(s: LineStore, q: string, from = s.base, to = s.end): number[] {
    const out: number[] = []
    s.search(new RegExp(q, 'gi'), from, to, (i) => out.push(i))
    return out
  }

  it('finds lines containing a match, once per line, across chunks and streams', () => {
    const s = new LineStore()
    s.append(STDOUT, 'error one\nfine\nerror error twice\n', 1)
    s.append(STDERR, 'ERROR three\n', 1)
    s.append(STDOUT, 'no\nlast error', 1)
    expect(found(s, 'error')).toEqual([0, 2, 3, 5])
    expect(found(s, 'error', 1, 4)).toEqual([2, 3])
  })

  it('does not match across a line break or inside the CR of CRLF', () => {
    const s = new LineStore()
    s.append(STDOUT, 'abc\r\ndef\n', 1)
    expect(found(s, 'c\\r')).toEqual([])
    expect(found(s, 'cd')).toEqual([])
    expect(found(s, 'de')).toEqual([1])
  })

  it('searches joined (partial) lines', () => {
    const s = new LineStore()
    s.append(STDOUT, 'nee', 1)
    s.append(STDERR, 'x\n', 1)
    s.append(STDOUT, 'dle\n', 1)
    expect(found(s, 'needle')).toEqual([0])
  })

  it('stops at the deadline and resumes where it stopped', () => {
    const s = new LineStore()
    for (let c = 0; c < 5; c++) s.append(STDOUT, 'hit\nmiss\n', c)
    const out: number[] = []
    const stop = s.search(/hit/gi, 0, s.end, (i) => out.push(i), -1) // deadline already past: one block
    expect(stop).toBe(2)
    s.search(/hit/gi, stop, s.end, (i) => out.push(i))
    expect(out).toEqual([0, 2, 4, 6, 8])
  })

  it('keeps the heap small: a line is offsets into its chunk, not a string of its own', () => {
    const s = new LineStore()
    const chunk = 'x'.repeat(20) + '\n'
    const data = chunk.repeat(1000)
    s.append(STDOUT, data, 1)
    expect(s.text(999)).toBe('x'.repeat(20))
    expect(s.length(5)).toBe(20)
  })

  it('a progress line extended many times stays one block', () => {
    const s = new LineStore()
    for (let i = 0; i < 1000; i++) s.append(STDOUT, '.', i)
    s.append(STDOUT, ' done\n', 1000)
    expect(s.size).toBe(1)
    expect(s.text(0)).toBe('.'.repeat(1000) + ' done')
    expect(s.ts(0)).toBe(0)
  })

  it('starts anywhere in the log, keeping absolute line numbers, segment boundaries included', () => {
    const s = new LineStore({ segBits: 2, cap: 1000 })
    s.startAt(7)
    s.append(STDOUT, 'a\nb\nc\nd\ne\n', 1)
    expect([s.base, s.end]).toEqual([7, 12])
    expect(s.text(8)).toBe('b')
    expect(s.text(11)).toBe('e')
    s.startAt(8)
    s.append(STDERR, 'x\ny\n', 1)
    expect([s.text(8), s.text(9), s.stream(9)]).toEqual(['x', 'y', STDERR])
  })

  it('follows the master on continued lines: a continuation of a line not held is skipped', () => {
    const s = new LineStore()
    s.startAt(100)
    expect(s.append(STDOUT, 'end of an older line\nline 100\n', 1, true).added).toBe(1)
    expect(texts(s)).toEqual(['line 100'])
    s.append(STDOUT, 'half', 2, false)
    s.append(STDERR, 'err\n', 3, false)
    s.append(STDOUT, ' and the rest\n', 4, true)
    expect(texts(s)).toEqual(['line 100', 'half and the rest', 'err'])
    s.append(STDOUT, 'open', 5, false)
    s.append(STDOUT, 'new line\n', 6, false) // not a continuation: a line of its own
    expect(texts(s).slice(3)).toEqual(['open', 'new line'])
  })
})
