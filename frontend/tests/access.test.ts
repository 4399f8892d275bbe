import { describe, expect, it } from 'vitest'
import type { Me } from '../src/api/types'
import { mayAct } from '../src/lib/access'

const me = (perms: Partial<Me['permissions']>): Me => ({
  authenticated: true, username: 'alice', is_staff: false,
  permissions: { submit: false, cancel: false, drain: false, ...perms },
})

describe('mayAct', () => {
  it('lets the owner with the submit right act on their task only', () => {
    expect(mayAct(me({ submit: true, cancel: true }), { owner: 'alice' })).toBe(true)
    expect(mayAct(me({ submit: true, cancel: true }), { owner: 'bob' })).toBe(false)
    expect(mayAct(me({ submit: false }), { owner: 'alice' })).toBe(false)
  })
  it('lets an operator act on anyone', () => {
    expect(mayAct(me({ cancel_any: true }), { owner: 'bob' })).toBe(true)
    expect(mayAct(me({ cancel_any: true }), { owner: null })).toBe(true)
  })
  it('refuses without a user or without an owner', () => {
    expect(mayAct(null, { owner: 'alice' })).toBe(false)
    expect(mayAct(me({ submit: true }), { owner: null })).toBe(false)
  })
})
