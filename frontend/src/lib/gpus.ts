/** Which task holds which GPU of a node (issue 19): the node lists its devices, each live task
 * (ASSIGNED or RUNNING) the indices its attempt holds. Pure, for the node card, panel and page. */
import type { ClusterNode, GpuDevice, GpuUsage, Task } from '../api/types'

export interface GpuSlot {
  device: GpuDevice
  /** the live task holding it, or null when free */
  task: Task | null
}

const LIVE = new Set(['ASSIGNED', 'RUNNING'])

export function gpuSlots(node: Pick<ClusterNode, 'id' | 'gpu_devices'>, tasks: Task[]): GpuSlot[] {
  const holder = new Map<number, Task>()
  for (const t of tasks) {
    if (!LIVE.has(t.status) || (t.node !== null && t.node !== node.id)) continue
    for (const index of t.gpu_devices ?? []) holder.set(index, t)
  }
  return [...(node.gpu_devices ?? [])]
    .sort((a, b) => a.index - b.index)
    .map((device) => ({ device, task: holder.get(device.index) ?? null }))
}

/** Each device's usage as the agent last reported it, by index (empty without nvidia-smi). */
export function usageByIndex(node: Pick<ClusterNode, 'gpu_usage'>): Map<number, GpuUsage> {
  return new Map((node.gpu_usage ?? []).map((g) => [g.index, g]))
}

/** "A100-SXM4-40GB · 40 GiB", or "GPU 3" for a device declared by index alone. */
export function gpuLabel(device: GpuDevice): string {
  const model = (device.model ?? '').replace(/^NVIDIA\s+/, '')
  const memory = device.memory ? `${Math.round(device.memory / 1024)} GiB` : ''
  return [model || `GPU ${device.index}`, memory].filter(Boolean).join(' · ')
}

/** "matlab=1\nfpga=2" -> {matlab: 1, fpga: 2}: the submit form's named resources. */
export function parseResourceCounts(text: string): { value: Record<string, number>; error: string | null } {
  const value: Record<string, number> = {}
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim()
    if (!line || line.startsWith('#')) continue
    const m = /^([A-Za-z][A-Za-z0-9._/-]{0,62})\s*=\s*(\d+)$/.exec(line)
    if (!m) return { value, error: `Line ${i + 1}: expected NAME=COUNT, such as matlab=1.` }
    value[m[1]] = Number(m[2])
  }
  return { value, error: null }
}
