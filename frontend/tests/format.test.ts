import { describe, expect, it } from 'vitest'
import { plural, visibleCommand } from '../src/lib/format'

describe('visibleCommand', () => {
  it('writes control characters as escapes and keeps tabs and newlines', () => {
    expect(visibleCommand('echo "\x1b[32mgreen\x1b[0m"\n\tdone')).toBe('echo "\\x1b[32mgreen\\x1b[0m"\n\tdone')
  })

  it('shows what a carriage return or a bidi override would hide or reorder', () => {
    expect(visibleCommand('rm -rf /tmp/x\rls')).toBe('rm -rf /tmp/x\\x0dls')
    expect(visibleCommand('echo \u202eevil')).toBe('echo \\u202eevil')
    expect(visibleCommand('a\x7fb\u0085c')).toBe('a\\x7fb\\x85c')
  })

  it('leaves ordinary text, quotes and non-ASCII letters alone', () => {
    const text = `python3 -c 'print("héllo, 世界")' | grep -v "x" > /dev/null`
    expect(visibleCommand(text)).toBe(text)
  })
})

describe('plural', () => {
  it('is singular for exactly one and plural otherwise', () => {
    expect(plural(1, 'core')).toBe('1 core')
    expect(plural(2, 'core')).toBe('2 cores')
    expect(plural(0.5, 'core')).toBe('0.5 cores')
    expect(plural(0, 'line')).toBe('0 lines')
    expect(plural(1, 'line')).toBe('1 line')
    expect(plural(3, 'line')).toBe('3 lines')
    expect(plural(1, 'try', 'tries')).toBe('1 try')
    expect(plural(4, 'try', 'tries')).toBe('4 tries')
  })

  it('groups thousands', () => {
    expect(plural(200000, 'line')).toBe((200000).toLocaleString() + ' lines')
  })
})
