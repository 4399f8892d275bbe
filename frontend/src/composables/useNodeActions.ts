/**
 * Drain and undrain from any view: drain waits out the undo toast (the node shows as draining
 * meanwhile, and goes back if undone or refused); undrain is sent at once (it takes nothing away).
 */
import { api } from '../api/client'
import type { ClusterNode } from '../api/types'
import { useClusterStore } from '../stores/cluster'
import { useToastStore } from '../stores/toasts'

export function useNodeActions() {
  const cluster = useClusterStore()
  const toasts = useToastStore()

  function put(n: ClusterNode | null): void {
    if (n && typeof n === 'object' && 'id' in n) cluster.upsertNodes([n])
  }

  function drain(node: ClusterNode): Promise<boolean> {
    return toasts.undoable({
      text: `Draining ${node.name}: no new tasks will be placed on it`,
      apply: () => cluster.upsertNodes([{ ...node, draining: true }]),
      revert: () => cluster.upsertNodes([{ ...(cluster.nodes.get(node.id) ?? node), draining: false }]),
      run: async () => put(await api.drain(node.id)),
      done: `${node.name} is draining.`,
      failed: (e) => `${node.name} was not drained: ${e.message}`,
    })
  }

  async function undrain(node: ClusterNode): Promise<void> {
    try {
      put(await api.undrain(node.id))
      toasts.show(`${node.name} takes new tasks again.`, 'ok')
    } catch (e) {
      toasts.show(`${node.name}: ${(e as Error).message}`, 'error', 8000)
    }
  }

  return { drain, undrain }
}
