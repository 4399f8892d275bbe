/** Reconnect delay for the n-th consecutive failure: exponential, capped, with jitter. */
export function backoffDelay(attempt: number, { base = 500, max = 15_000, random = Math.random } = {}): number {
  const exp = Math.min(max, base * 2 ** Math.min(attempt, 16))
  return Math.round(exp * (0.75 + 0.5 * random()))
}
