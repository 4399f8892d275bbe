/**
 * Time series held by the charts: columns keyed by name ("cpu.used", "tasks.failed") over bucket
 * starts `t` (unix seconds) at a fixed `step`. Loaded once from the history API, then extended
 * from the events socket's `history` frames: a point lands in its bucket (a new one, or merged
 * into the last: gauges averaged, counts added, maxima kept), and points older than the window
 * fall off. Plain data, no Vue.
 */

export type Merge = 'avg' | 'sum' | 'max'

export interface SeriesTable {
  step: number
  /** seconds kept back from the newest point */
  window: number
  t: number[]
  cols: Record<string, Array<number | null>>
  /** points merged into each bucket (for running averages) */
  n: number[]
}

/** How a column merges within a bucket: counts add up, maxima are kept, the rest average. */
export function mergeOf(col: string): Merge {
  if (col.startsWith('tasks.') || col === 'placement.count') return 'sum'
  if (col.endsWith('max_ms')) return 'max'
  return 'avg'
}

/** {cpu: {used: 1}, queue: {pending: 2}} -> {"cpu.used": 1, "queue.pending": 2} */
export function flatten(point: Record<string, unknown>, prefix = ''): Record<string, number | null> {
  const out: Record<string, number | null> = {}
  for (const [k, v] of Object.entries(point)) {
    if (k === 't' || k === 'id') continue
    const key = prefix ? `${prefix}.${k}` : k
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) Object.assign(out, flatten(v as Record<string, unknown>, key))
    else out[key] = typeof v === 'number' ? v : null
  }
  return out
}

/** A table from the API's columns ({t: [...], cpu: {used: [...]}, ...}). */
export function fromColumns(step: number, window: number, body: Record<string, unknown> & { t: number[] }): SeriesTable {
  const cols: Record<string, Array<number | null>> = {}
  for (const [name, value] of Object.entries(body)) {
    if (!value || typeof value !== 'object' || Array.isArray(value)) continue
    for (const [k, column] of Object.entries(value as Record<string, unknown>)) {
      if (Array.isArray(column)) cols[`${name}.${k}`] = column as Array<number | null>
    }
  }
  return { step, window, t: [...body.t], cols, n: body.t.map(() => 1) }
}

/**
 * Add a point at time `t` (seconds): into the last bucket when it falls there, else as a new
 * bucket (a point older than the last bucket is ignored: the table only grows forward). Returns
 * whether anything changed.
 */
export function appendPoint(table: SeriesTable, t: number, values: Record<string, number | null>): boolean {
  const bucket = Math.floor(t / table.step) * table.step
  const last = table.t.length - 1
  if (last >= 0 && bucket < table.t[last]) return false
  if (last >= 0 && bucket === table.t[last]) {
    const n = table.n[last]
    for (const [col, v] of Object.entries(values)) {
      const column = (table.cols[col] ??= table.t.map(() => null))
      const old = column[last]
      if (v === null) continue
      if (old === null || old === undefined) column[last] = v
      else {
        const how = mergeOf(col)
        column[last] = how === 'sum' ? old + v : how === 'max' ? Math.max(old, v) : (old * n + v) / (n + 1)
      }
    }
    table.n[last] = n + 1
  } else {
    table.t.push(bucket)
    table.n.push(1)
    for (const col of Object.keys(table.cols)) table.cols[col].push(col in values ? values[col] : null)
    for (const [col, v] of Object.entries(values)) if (!(col in table.cols)) table.cols[col] = [...table.t.slice(1).map(() => null), v]
  }
  trim(table)
  return true
}

/** Drop points older than the window back from the newest. */
export function trim(table: SeriesTable): void {
  if (!table.t.length) return
  const oldest = table.t[table.t.length - 1] - table.window
  let cut = 0
  while (cut < table.t.length && table.t[cut] < oldest) cut++
  if (!cut) return
  table.t.splice(0, cut)
  table.n.splice(0, cut)
  for (const column of Object.values(table.cols)) column.splice(0, cut)
}

/** The ranges the charts offer: how far back, at which step (the API's tiers). */
export const RANGES = {
  '1h': { since: '1h', step: 10, window: 3600 },
  '24h': { since: '24h', step: 60, window: 86_400 },
  '7d': { since: '7d', step: 600, window: 7 * 86_400 },
} as const
export type Range = keyof typeof RANGES

/** The same series at a coarser step (e.g. 10 s buckets shown per minute): merged per column. */
export function resample(table: SeriesTable, step: number): SeriesTable {
  if (step <= table.step) return table
  const out: SeriesTable = { step, window: table.window, t: [], cols: {}, n: [] }
  for (const col of Object.keys(table.cols)) out.cols[col] = []
  for (let i = 0; i < table.t.length; i++) {
    const values: Record<string, number | null> = {}
    for (const [col, column] of Object.entries(table.cols)) values[col] = column[i] ?? null
    const before = out.t.length
    appendPoint(out, table.t[i], values)
    if (out.t.length === before) continue
  }
  return out
}
