/**
 * Terminal semantics of a carriage return inside a line: `\r` moves back to the start of the line
 * and what follows overwrites it, so a progress bar shows its last state ("progress 10%\rprogress
 * 100%" reads "progress 100%"). A trailing `\r` changes nothing. The raw log keeps the bytes.
 */
export function applyCarriageReturns(text: string): string {
  if (text.indexOf('\r') < 0) return text
  let shown = ''
  for (const piece of text.split('\r')) {
    if (piece.length === 0) continue
    shown = piece + shown.slice(piece.length)
  }
  return shown
}
