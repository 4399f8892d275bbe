/** "KEY=VALUE" lines ↔ {KEY: VALUE}, for the env and node-selector fields of the submit form. */
export function parseKeyValues(text: string): { value: Record<string, string>; error: string | null } {
  const value: Record<string, string> = {}
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim()
    if (!line || line.startsWith('#')) continue
    const eq = line.indexOf('=')
    if (eq <= 0) return { value, error: `Line ${i + 1}: expected KEY=VALUE.` }
    value[line.slice(0, eq).trim()] = line.slice(eq + 1).trim()
  }
  return { value, error: null }
}
