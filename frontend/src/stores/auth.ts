/** Who is signed in (Django session). `ensure()` asks the server once; 401 anywhere resets it. */

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
