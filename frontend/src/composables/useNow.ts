/** A clock ref that ticks every `ms` (for "3s ago" and running durations). */
import { getCurrentScope, onScopeDispose, ref } from 'vue'

export function useNow(ms = 1000) {
  const now = ref(Date.now())
  const timer = setInterval(() => (now.value = Date.now()), ms)
  if (getCurrentScope()) onScopeDispose(() => clearInterval(timer))
  return now
}
