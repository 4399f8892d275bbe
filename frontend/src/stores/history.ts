/**
 * The charts' data: the cluster's series per range and each watched node's, loaded once from
 * `GET /api/v1/metrics/history`, then extended by the events socket's `history` frames (one per
 * recorded bucket) without fetching again. Tables are plain objects behind shallow refs; `version`
 * is bumped once per change so charts redraw once per frame.
 */

import { defineStore } from 'pinia'
import { shallowRef } from 'vue'
import { api } from '../api/client'
import type { EventsFrame } from '../api/types'
import { appendPoint, flatten, fromColumns, RANGES, type Range, type SeriesTable } from '../lib/series'

type HistoryFrame = Extract<EventsFrame, { type: 'history' }>

/** Node sparklines: the last hour by the minute. */
export const NODE_RANGE = { since: '1h', step: 60, window: 3600 }

export const useHistoryStore = defineStore('history', () => {
  const cluster = shallowRef<Partial<Record<Range, SeriesTable>>>({})
  const nodes = shallowRef(new Map<number, SeriesTable>())
  const version = shallowRef(0)
  const errors = shallowRef<Partial<Record<Range, string>>>({})
  const loading = new Map<string, Promise<void>>()

  function once(key: string, fn: () => Promise<void>): Promise<void> {
    const running = loading.get(key)
    if (running) return running
    const p = fn().finally(() => loading.delete(key))
    loading.set(key, p)
    return p
  }

  /** Load a range of the cluster's series (once; live frames keep it current after). */
  function loadCluster(range: Range, { force = false } = {}): Promise<void> {
    if (cluster.value[range] && !force) return Promise.resolve()
    return once(`cluster:${range}`, async () => {
      const r = RANGES[range]
      try {
        const body = await api.history({ since: r.since, step: r.step })
        cluster.value = { ...cluster.value, [range]: fromColumns(r.step, r.window, body as never) }
        errors.value = { ...errors.value, [range]: undefined }
      } catch (e) {
        errors.value = { ...errors.value, [range]: (e as Error).message }
      }
      version.value++
    })
  }

  /** Load the last hour of some nodes (those not held yet). */
  function loadNodes(ids: number[]): Promise<void> {
    const missing = ids.filter((id) => !nodes.value.has(id))
    if (!missing.length) return Promise.resolve()
    return once(`nodes:${missing.join(',')}`, async () => {
      for (let i = 0; i < missing.length; i += 200) {
        const chunk = missing.slice(i, i + 200)
        try {
          const body = await api.nodeHistory(chunk, { since: NODE_RANGE.since, step: NODE_RANGE.step })
          const next = new Map(nodes.value)
          for (const series of body.nodes) {
            const { id, name: _name, ...columns } = series
            next.set(id, fromColumns(NODE_RANGE.step, NODE_RANGE.window, columns as never))
          }
          nodes.value = next
        } catch {
          /* a sparkline without history still draws from the live frames */
        }
      }
      version.value++
    })
  }

  /** A `history` frame: the new bucket joins every table held. */
  function ingest(frame: HistoryFrame): void {
    const values = flatten(frame.point as unknown as Record<string, unknown>)
    for (const table of Object.values(cluster.value)) if (table) appendPoint(table, frame.point.t, values)
    const held = nodes.value
    for (const p of frame.nodes) {
      const table = held.get(p.id)
      if (table) appendPoint(table, p.t, flatten(p as unknown as Record<string, unknown>))
    }
    version.value++
  }

  return { cluster, nodes, version, errors, loadCluster, loadNodes, ingest }
})
