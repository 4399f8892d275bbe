import { describe, expect, it } from 'vitest'
import { ANSI_PALETTE, markMatches, parseAnsi, spanStyle, stripAnsi } from '../src/lib/ansi'

describe('parseAnsi', () => {
  it('returns one plain span for a line without escapes', () => {
    expect(parseAnsi('hello')).toEqual([{ text: 'hello', fg: null, bg: null, bold: false, dim: false, italic: false, underline: false }])
    expect(parseAnsi('')).toEqual([])
  })

  it('colours text with the 16-colour palette and resets', () => {
    const spans = parseAnsi('a\x1b[31mred\x1b[0m b \x1b[1;92mbright\x1b[m')
    expect(spans.map((s) => s.text)).toEqual(['a', 'red', ' b ', 'bright'])
    expect(spans[1].fg).toBe(ANSI_PALETTE[1])
    expect(spans[2].fg).toBeNull()
    expect(spans[3]).toMatchObject({ fg: ANSI_PALETTE[10], bold: true })
  })

  it('understands 256-colour and truecolor, foreground and background', () => {
    const [a, b] = parseAnsi('\x1b[38;5;196mx\x1b[48;2;10;20;30;38;5;21my')
    expect(a.fg).toBe('rgb(255,0,0)')
    expect(b.bg).toBe('rgb(10,20,30)')
    expect(b.fg).toBe('rgb(0,0,255)')
  })

  it('applies and clears attributes', () => {
    const spans = parseAnsi('\x1b[3;4mi\x1b[23mu\x1b[24;39mn')
    expect(spans[0]).toMatchObject({ italic: true, underline: true })
    expect(spans[1]).toMatchObject({ italic: false, underline: true })
    expect(spans[2]).toMatchObject({ italic: false, underline: false })
  })

  it('swaps colours for inverse', () => {
    const [s] = parseAnsi('\x1b[31;7mx')
    expect(s.bg).toBe(ANSI_PALETTE[1])
    expect(s.fg).not.toBe(ANSI_PALETTE[1])
  })

  it('removes cursor movement and OSC sequences without showing them', () => {
    const spans = parseAnsi('\x1b[2K\x1b[1Gdone\x1b]0;title\x07!')
    expect(spans.map((s) => s.text).join('')).toBe('done!')
    expect(stripAnsi('\x1b[32mok\x1b[0m')).toBe('ok')
  })

  it('renders styles as CSS', () => {
    expect(spanStyle(parseAnsi('\x1b[1;31mx')[0])).toBe(`color:${ANSI_PALETTE[1]};font-weight:700;`)
  })
})

describe('markMatches', () => {
  it('cuts spans around case-insensitive hits, across span borders', () => {
    const spans = parseAnsi('Err\x1b[31mOR here error')
    const marked = markMatches(spans, 'error')
    expect(marked.filter((s) => s.mark).map((s) => s.text)).toEqual(['Err', 'OR', 'error'])
    expect(marked.map((s) => s.text).join('')).toBe('ErrOR here error')
    expect(marked.find((s) => s.text === 'OR')?.fg).toBe(ANSI_PALETTE[1])
  })
})
