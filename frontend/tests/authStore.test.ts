import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { useAuthStore } from '../src/stores/auth'

function embed(text: string): void {
  const el = document.createElement('script')
  el.id = 'session'
  el.type = 'application/json'
  el.textContent = text
  document.head.appendChild(el)
}

const ME = { authenticated: true, username: 'ada', is_staff: false, permissions: { submit: true, cancel: true, drain: false } }

describe('auth store', () => {
  let fetchMock: ReturnType<typeof vi.fn>
  beforeEach(() => {
    setActivePinia(createPinia())
    fetchMock = vi.fn(async () => new Response(JSON.stringify({ ...ME, username: 'from-server' }), { status: 200, headers: { 'content-type': 'application/json' } }))
    vi.stubGlobal('fetch', fetchMock)
  })
  afterEach(() => {
    document.getElementById('session')?.remove()
    vi.unstubAllGlobals()
  })

  it('starts from the session embedded in the page without asking the server, and reads it once', async () => {
    embed(JSON.stringify(ME))
    const auth = useAuthStore()
    expect(await auth.ensure()).toMatchObject({ username: 'ada' })
    expect(fetchMock).not.toHaveBeenCalled()
    expect(document.getElementById('session')).toBeNull()
    // a later check (after a 401 reset, say) asks the server
    setActivePinia(createPinia())
    expect(await useAuthStore().ensure()).toMatchObject({ username: 'from-server' })
    expect(fetchMock).toHaveBeenCalledTimes(1)
  })

  it('takes an embedded signed-out answer as nobody signed in', async () => {
    embed(JSON.stringify({ authenticated: false, detail: 'Not signed in.' }))
    const auth = useAuthStore()
    expect(await auth.ensure()).toBeNull()
    expect(auth.checked).toBe(true)
    expect(fetchMock).not.toHaveBeenCalled()
  })

  it('asks the server when the page carries no session or an unreadable one', async () => {
    embed('{not json')
    expect(await useAuthStore().ensure()).toMatchObject({ username: 'from-server' })
    expect(fetchMock).toHaveBeenCalledTimes(1)
    expect(String(fetchMock.mock.calls[0][0])).toContain('/api/v1/auth/me')
  })
})
