/** What the dense grid (the heatmap) colours its cells by: CPU usage, memory usage or GPU load
 * (issue 19: the mean utilisation of the node's GPUs as its agent last reported them). Pure. */
import type { ClusterNode, GpuUsage } from '../api/types'
import { usageColour } from './format'

export type HeatBy = 'cpu' | 'memory' | 'gpu'
export const HEAT_BY: readonly HeatBy[] = ['cpu', 'memory', 'gpu']

/** Drawn for a node without GPUs (or no usage reported) when colouring by GPU load. */
export const NOT_APPLICABLE = 'repeating-linear-gradient(135deg, hsl(220 10% 22%) 0 2px, hsl(220 10% 14%) 2px 5px)'

/** The mean utilisation (%) of the GPUs that reported one; null when none did. */
export function meanGpuUtil(usage: GpuUsage[] | null | undefined): number | null {
  const utils = (usage ?? []).map((g) => g.util).filter((u): u is number => typeof u === 'number' && Number.isFinite(u))
  return utils.length ? utils.reduce((a, b) => a + b, 0) / utils.length : null
}

/** The figure a cell shows: a percentage, null (unknown yet), or 'n/a' (a GPU view of a node
 * with no GPU usage to show). */
export function heatValue(node: Pick<ClusterNode, 'cpu_usage' | 'mem_usage' | 'gpu' | 'gpu_usage'>, by: HeatBy): number | null | 'n/a' {
  if (by === 'cpu') return node.cpu_usage
  if (by === 'memory') return node.mem_usage
  if (!node.gpu) return 'n/a'
  const mean = meanGpuUtil(node.gpu_usage)
  return mean === null ? 'n/a' : mean
}

/** The CSS background of a cell: status first (offline grey, unhealthy amber), then the figure. */
export function heatColour(node: Pick<ClusterNode, 'status' | 'cpu_usage' | 'mem_usage' | 'gpu' | 'gpu_usage'>, by: HeatBy): string {
  if (node.status === 'OFFLINE') return 'var(--color-ink-600)'
  if (node.status === 'UNHEALTHY') return 'hsl(38 45% 30%)'
  const value = heatValue(node, by)
  return value === 'n/a' ? NOT_APPLICABLE : usageColour(value)
}
