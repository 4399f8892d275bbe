import { describe, expect, it } from 'vitest'
import { usageColour } from '../src/lib/format'
import { heatColour, heatValue, meanGpuUtil, NOT_APPLICABLE } from '../src/lib/heat'

const base = { status: 'ONLINE' as const, cpu_usage: 10, mem_usage: 20, gpu: 0, gpu_usage: null }
const gpuBox = {
  ...base,
  gpu: 2,
  gpu_usage: [
    { index: 0, util: 90, mem_used: 1, mem_total: 2 },
    { index: 1, util: 30, mem_used: 1, mem_total: 2 },
  ],
}

describe('heatmap colour', () => {
  it('colours by cpu, memory, or the mean utilisation of the GPUs', () => {
    expect(heatColour(gpuBox, 'cpu')).toBe(usageColour(10))
    expect(heatColour(gpuBox, 'memory')).toBe(usageColour(20))
    expect(heatValue(gpuBox, 'gpu')).toBe(60)
    expect(heatColour(gpuBox, 'gpu')).toBe(usageColour(60))
  })

  it('draws a node without GPUs, or without usage reported, as n/a when colouring by GPU', () => {
    expect(heatValue(base, 'gpu')).toBe('n/a')
    expect(heatColour(base, 'gpu')).toBe(NOT_APPLICABLE)
    expect(heatValue({ ...gpuBox, gpu_usage: null }, 'gpu')).toBe('n/a')
    expect(heatColour(base, 'cpu')).toBe(usageColour(10))
  })

  it('averages only the GPUs that reported a utilisation', () => {
    expect(meanGpuUtil([{ index: 0, util: 50, mem_used: null, mem_total: null }, { index: 1, util: null, mem_used: null, mem_total: null }])).toBe(50)
    expect(meanGpuUtil([{ index: 0, util: null, mem_used: null, mem_total: null }])).toBeNull()
    expect(meanGpuUtil(undefined)).toBeNull()
  })

  it('shows status before load: offline grey, unhealthy amber', () => {
    expect(heatColour({ ...gpuBox, status: 'OFFLINE' }, 'gpu')).toBe('var(--color-ink-600)')
    expect(heatColour({ ...base, status: 'UNHEALTHY' }, 'gpu')).toBe('hsl(38 45% 30%)')
  })
})
