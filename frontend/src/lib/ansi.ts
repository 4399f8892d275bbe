/**
 * ANSI SGR parsing for one log line: colours (16, 256, truecolor), bold, dim, italic, underline,
 * inverse. Other escape sequences (cursor moves, OSC titles) are removed. State does not carry
 * across lines: each line is parsed on its own, which is what keeps rendering O(visible lines).
 */

export interface AnsiSpan {
  text: string
  fg: string | null
  bg: string | null
  bold: boolean
  dim: boolean
  italic: boolean
  underline: boolean
}

// Tuned for a dark background: the standard 8 and bright 8.
export const ANSI_PALETTE = [
  '#1e2430', '#f7768e', '#9ece6a', '#e0af68', '#7aa2f7', '#bb9af7', '#7dcfff', '#c0caf5',
  '#5c6370', '#ff899d', '#b9f27c', '#ffc777', '#8db0ff', '#c7a9ff', '#a4daff', '#ffffff',
]

// Escape sequences: CSI (ESC [ params final), OSC (ESC ] ... BEL or ESC \), and two-byte escapes.
// eslint-disable-next-line no-control-regex
const ESCAPES = /\x1b\[([0-9;:?]*)([@-~])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]?/g

function xterm256(n: number): string {
  if (n < 16) return ANSI_PALETTE[n]
  if (n < 232) {
    const i = n - 16
    const level = (v: number) => (v === 0 ? 0 : 55 + v * 40)
    return `rgb(${level(Math.floor(i / 36))},${level(Math.floor(i / 6) % 6)},${level(i % 6)})`
  }
  const grey = 8 + (n - 232) * 10
  return `rgb(${grey},${grey},${grey})`
}

interface State {
  fg: string | null
  bg: string | null
  bold: boolean
  dim: boolean
  italic: boolean
  underline: boolean
  inverse: boolean
}

function plain(): State {
  return { fg: null, bg: null, bold: false, dim: false, italic: false, underline: false, inverse: false }
}

function extendedColour(codes: number[], i: number): [string | null, number] {
  if (codes[i + 1] === 5 && i + 2 < codes.length) return [xterm256(codes[i + 2] & 255), i + 2]
  if (codes[i + 1] === 2 && i + 4 < codes.length) {
    const [r, g, b] = [codes[i + 2], codes[i + 3], codes[i + 4]].map((v) => Math.max(0, Math.min(255, v)))
    return [`rgb(${r},${g},${b})`, i + 4]
  }
  return [null, codes.length]
}

function applySgr(state: State, params: string): void {
  const codes = params === '' ? [0] : params.split(/[;:]/).map((p) => (p === '' ? 0 : Number(p)))
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i]
    if (c === 0) Object.assign(state, plain())
    else if (c === 1) state.bold = true
    else if (c === 2) state.dim = true
    else if (c === 3) state.italic = true
    else if (c === 4) state.underline = true
    else if (c === 7) state.inverse = true
    else if (c === 22) state.bold = state.dim = false
    else if (c === 23) state.italic = false
    else if (c === 24) state.underline = false
    else if (c === 27) state.inverse = false
    else if (c >= 30 && c <= 37) state.fg = ANSI_PALETTE[c - 30]
    else if (c === 38) [state.fg, i] = extendedColour(codes, i)
    else if (c === 39) state.fg = null
    else if (c >= 40 && c <= 47) state.bg = ANSI_PALETTE[c - 40]
    else if (c === 48) [state.bg, i] = extendedColour(codes, i)
    else if (c === 49) state.bg = null
    else if (c >= 90 && c <= 97) state.fg = ANSI_PALETTE[c - 90 + 8]
    else if (c >= 100 && c <= 107) state.bg = ANSI_PALETTE[c - 100 + 8]
  }
}

function span(text: string, s: State): AnsiSpan {
  const fg = s.inverse ? (s.bg ?? '#0b0f14') : s.fg
  const bg = s.inverse ? (s.fg ?? '#c0caf5') : s.bg
  return { text, fg, bg, bold: s.bold, dim: s.dim, italic: s.italic, underline: s.underline }
}

/** Split a line into styled spans; a line without ESC is one plain span (the common fast path). */
export function parseAnsi(line: string): AnsiSpan[] {
  const state = plain()
  if (line.indexOf('\x1b') < 0) return line ? [span(line, state)] : []
  const spans: AnsiSpan[] = []
  let at = 0
  ESCAPES.lastIndex = 0
  for (let m = ESCAPES.exec(line); m; m = ESCAPES.exec(line)) {
    if (m.index > at) spans.push(span(line.slice(at, m.index), state))
    if (m[2] === 'm') applySgr(state, m[1] ?? '')
    at = ESCAPES.lastIndex
  }
  if (at < line.length) spans.push(span(line.slice(at), state))
  return spans
}

/** The text a reader sees: escapes removed. */
export function stripAnsi(line: string): string {
  return line.indexOf('\x1b') < 0 ? line : line.replace(ESCAPES, '')
}

export function spanStyle(s: AnsiSpan): string {
  let css = ''
  if (s.fg) css += `color:${s.fg};`
  if (s.bg) css += `background-color:${s.bg};`
  if (s.bold) css += 'font-weight:700;'
  if (s.dim) css += 'opacity:.65;'
  if (s.italic) css += 'font-style:italic;'
  if (s.underline) css += 'text-decoration:underline;'
  return css
}

export interface MarkedSpan extends AnsiSpan {
  mark: boolean
}

/** Cut spans at the occurrences of `needle` (case-insensitive) so they can be highlighted. */
export function markMatches(spans: AnsiSpan[], needle: string): MarkedSpan[] {
  if (!needle) return spans.map((s) => ({ ...s, mark: false }))
  const full = spans.map((s) => s.text).join('')
  const hay = full.toLowerCase()
  const n = needle.toLowerCase()
  const ranges: Array<[number, number]> = []
  for (let i = hay.indexOf(n); i >= 0; i = hay.indexOf(n, i + n.length)) ranges.push([i, i + n.length])
  if (ranges.length === 0) return spans.map((s) => ({ ...s, mark: false }))
  const out: MarkedSpan[] = []
  let pos = 0
  for (const s of spans) {
    const start = pos
    const stop = pos + s.text.length
    let cut = start
    for (const [a, b] of ranges) {
      if (b <= cut || a >= stop) continue
      if (a > cut) out.push({ ...s, text: full.slice(cut, a), mark: false })
      const e = Math.min(b, stop)
      out.push({ ...s, text: full.slice(Math.max(a, cut), e), mark: true })
      cut = e
    }
    if (cut < stop) out.push({ ...s, text: full.slice(cut, stop), mark: false })
    pos = stop
  }
  return out
}
