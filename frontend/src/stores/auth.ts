/**
 * Who is signed in (Django session). The page the master serves carries the answer of
 * `GET /auth/me` (`<script id="session" type="application/json">`), so `ensure()` starts from it;
 * without it (the Vite dev server) it asks the server once. 401 anywhere resets it.
 */

import { defineStore } from 'pinia'
import { ref } from 'vue'
import { api, ApiError } from '../api/client'
import type { Me } from '../api/types'

export const useAuthStore = defineStore('auth', () => {
  const me = ref<Me | null>(null)
  const checked = ref(false)
  const error = ref<string | null>(null)

  async function ensure(): Promise<Me | null> {
    if (checked.value) return me.value
    const embedded = takeEmbeddedSession()
    if (embedded) {
      me.value = embedded.authenticated === false ? null : embedded
      checked.value = true
      return me.value
    }
    try {
      const answer = await api.me()
      me.value = answer.authenticated === false ? null : answer
      error.value = null
    } catch (e) {
      me.value = null
      if (e instanceof ApiError && e.status !== 401) error.value = e.message
    }
    checked.value = true
    return me.value
  }

  async function login(username: string, password: string): Promise<void> {
    await api.me().catch(() => null) // sets the csrftoken cookie
    me.value = await api.login(username, password)
    checked.value = true
  }

  async function logout(): Promise<void> {
    try {
      await api.logout()
    } finally {
      me.value = null
      checked.value = true
    }
  }

  function expired(): void {
    me.value = null
    checked.value = true
  }

  return { me, checked, error, ensure, login, logout, expired }
})

/** The session answer embedded in the page, read once (a later check asks the server). */
export function takeEmbeddedSession(doc: Document = document): Me | null {
  const el = doc.getElementById('session')
  if (!el) return null
  el.remove()
  try {
    const value = JSON.parse(el.textContent ?? '') as Me
    return value && typeof value.authenticated === 'boolean' ? value : null
  } catch {
    return null
  }
}
