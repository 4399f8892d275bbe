/** Display formats shared by the views. */

export function fmtCores(cores: number): string {
  return Number.isInteger(cores) ? String(cores) : cores.toFixed(cores < 10 ? 2 : 1).replace(/0+$/, '').replace(/\.$/, '')
}

export function fmtMem(mib: number): string {
  if (mib >= 1024 * 1024) return `${(mib / 1024 / 1024).toFixed(1)} TiB`
  if (mib >= 1024) return `${(mib / 1024).toFixed(mib >= 10 * 1024 ? 0 : 1)} GiB`
  return `${mib} MiB`
}

export function fmtPct(v: number | null | undefined): string {
  return v === null || v === undefined ? '—' : `${Math.round(v)}%`
}

// Formatters are built once: `toLocale*String(locale, options)` builds a new one on every call,
// about a millisecond each, which adds up in a table of tasks or a task's detail.
const timeFormat = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit', second: '2-digit', hour12: false })
const dayFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' })

export function fmtTime(iso: string | null | undefined): string {
  if (!iso) return '—'
  return timeFormat.format(new Date(iso))
}

export function fmtDateTime(iso: string | null | undefined): string {
  if (!iso) return '—'
  const d = new Date(iso)
  return `${dayFormat.format(d)} ${timeFormat.format(d)}`
}

export function fmtDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '—'
  const s = ms / 1000
  if (s < 1) return `${Math.round(ms)} ms`
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m ${Math.floor(s % 60)}s`
  return `${Math.floor(m / 60)}h ${m % 60}m`
}

export function taskDuration(t: { started_at: string | null; finished_at: string | null }, now = Date.now()): string {
  if (!t.started_at) return '—'
  const end = t.finished_at ? Date.parse(t.finished_at) : now
  return fmtDuration(end - Date.parse(t.started_at))
}

export function fmtAgo(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return 'never'
  const s = Math.max(0, (now - Date.parse(iso)) / 1000)
  if (s < 2) return 'just now'
  if (s < 60) return `${Math.floor(s)}s ago`
  if (s < 3600) return `${Math.floor(s / 60)}m ago`
  return `${Math.floor(s / 3600)}h ago`
}

const tsFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false })

/** A log timestamp (unix seconds) as HH:MM:SS.mmm. */
export function fmtLogTs(ts: number): string {
  if (!ts) return ''.padEnd(12)
  const ms = Math.floor((ts * 1000) % 1000)
  return `${tsFormat.format(ts * 1000)}.${String(ms).padStart(3, '0')}`
}

/** Heatmap colour for a CPU usage percentage: cool teal → amber → red. */
export function usageColour(pct: number | null): string {
  if (pct === null) return 'hsl(220 14% 18%)'
  const p = Math.max(0, Math.min(100, pct)) / 100
  const hue = 175 - 175 * p
  const light = 22 + 14 * p
  return `hsl(${hue.toFixed(0)} 70% ${light.toFixed(0)}%)`
}

// C0 controls but tab and newline, DEL, C1 controls, and the bidirectional overrides/isolates
const HIDDEN = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g

/**
 * A command as text that shows every character it holds: control characters (an ESC of an
 * ANSI colour, a carriage return that would hide what precedes it, a bidi override that would
 * reorder it) are written as `\xNN` / `\uNNNN` escapes; tabs and newlines stay as they are.
 */
export function visibleCommand(text: string): string {
  return text.replace(HIDDEN, (c) => {
    const code = c.charCodeAt(0)
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`
  })
}

/**
 * A count with its noun, singular for exactly 1: "1 core", "2 cores", "0.5 cores", "1,024 lines".
 * `many` for irregular plurals ("1 match", "3 matches").
 */
export function plural(n: number, one: string, many = `${one}s`): string {
  const shown = Number.isInteger(n) ? n.toLocaleString() : fmtCores(n)
  return `${shown} ${n === 1 ? one : many}`
}
