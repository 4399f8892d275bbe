import { describe, expect, it } from 'vitest'
import { checkable, filterFromQuery, filterToQuery, matches } from '../src/lib/taskFilter'
import type { Task } from '../src/api/types'

const task = (over: Partial<Task> = {}): Task => ({
  id: 7, name: 'Nightly-Backup', command: 'tar czf /b.tgz /home', cpu: 1, mem: 64, priority: 0, status: 'RUNNING', status_reason: '', status_message: '',
  node: 3, node_name: 'large', attempt: 1, max_attempts: 3, timeout: null, exit_code: null, created_at: null, assigned_at: null, started_at: null, finished_at: null, ...over,
})

describe('task filter', () => {
  it('reads the URL, dropping unknown statuses, and writes it back', () => {
    const f = filterFromQuery({ q: ' backup ', status: 'running,NOPE,failed', node: 'large', owner: 5 })
    expect(f).toEqual({ q: 'backup', node: 'large', owner: '', status: ['RUNNING', 'FAILED'] })
    expect(filterToQuery(f)).toEqual({ q: 'backup', node: 'large', owner: undefined, status: 'RUNNING,FAILED' })
  })

  it('matches as the server does: status, node id or name, text in the name or command in any case, #id', () => {
    const f = (q: Record<string, string>) => filterFromQuery(q)
    expect(matches(task(), f({}))).toBe(true)
    expect(matches(task(), f({ status: 'FAILED' }))).toBe(false)
    expect(matches(task(), f({ node: '3' }))).toBe(true)
    expect(matches(task(), f({ node: 'large' }))).toBe(true)
    expect(matches(task(), f({ node: 'small' }))).toBe(false)
    expect(matches(task(), f({ q: 'BACKUP' }))).toBe(true)
    expect(matches(task(), f({ q: '/home' }))).toBe(true)
    expect(matches(task(), f({ q: 'report' }))).toBe(false)
    expect(matches(task(), f({ q: '#7' }))).toBe(true)
    expect(matches(task(), f({ q: '#8' }))).toBe(false)
  })

  it('leaves an owner filter to the server', () => {
    expect(checkable(filterFromQuery({ owner: 'ann' }))).toBe(false)
    expect(checkable(filterFromQuery({ q: 'x' }))).toBe(true)
  })
})
