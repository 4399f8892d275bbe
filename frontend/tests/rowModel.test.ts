import { describe, expect, it } from 'vitest'
import { LineStore, STDERR, STDOUT } from '../src/lib/lineStore'
import { RowModel, wrappedRows } from '../src/lib/rowModel'

function store() {
  const s = new LineStore()
  s.append(STDOUT, 'o0\no1\n', 1)
  s.append(STDERR, 'e0\n', 1)
  s.append(STDOUT, 'o2\n', 1)
  return s
}

describe('RowModel', () => {
  it('is the identity without filter and wrap', () => {
    const m = new RowModel(store())
    expect(m.identity).toBe(true)
    expect(m.rows).toBe(4)
    expect(m.lineAt(2)).toBe(2)
  })

  it('filters one stream, incrementally', () => {
    const s = store()
    const m = new RowModel(s, { filter: 'stderr' })
    expect(m.rows).toBe(1)
    expect(m.lineAt(0)).toBe(2)
    s.append(STDERR, 'e1\n', 2)
    m.sync()
    expect(m.rows).toBe(2)
    expect(m.lineAt(1)).toBe(4)
    expect(m.entryOfLine(3)).toBe(1) // nearest shown line at or after 3
  })

  it('wraps long lines into several rows and finds the entry of a row', () => {
    const s = new LineStore()
    s.append(STDOUT, `${'x'.repeat(25)}\nshort\n${'y'.repeat(10)}\n`, 1)
    const m = new RowModel(s, { cols: 10 })
    expect(m.rows).toBe(3 + 1 + 1)
    expect(m.entryAtRow(0)).toBe(0)
    expect(m.entryAtRow(2)).toBe(0)
    expect(m.entryAtRow(3)).toBe(1)
    expect(m.entryAtRow(4)).toBe(2)
    expect(m.rowOf(2)).toBe(4)
  })

  it('rewraps an open line that grew', () => {
    const s = new LineStore()
    s.append(STDOUT, 'abc', 1)
    const m = new RowModel(s, { cols: 4 })
    expect(m.rows).toBe(1)
    const r = s.append(STDOUT, 'defgh\n', 1)
    m.sync([r.extended])
    expect(m.rows).toBe(2)
  })

  it('forgets entries whose lines were dropped', () => {
    const s = new LineStore({ cap: 8, segBits: 2 })
    const m = new RowModel(s, { filter: 'stdout' })
    for (let i = 0; i < 10; i++) s.append(STDOUT, `l${i}\n`, i)
    m.sync()
    expect(m.rows).toBe(6)
    expect(m.lineAt(0)).toBe(4)
  })

  it('counts ANSI escapes as zero width when wrapping', () => {
    expect(wrappedRows('\x1b[31m' + 'x'.repeat(10) + '\x1b[0m', 10)).toBe(1)
  })
})
