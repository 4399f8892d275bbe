/**
 * Light or dark: follows the system (`prefers-color-scheme`) until the reader picks one with the
 * toggle (kept in localStorage). Sets `data-theme` on <html>; the light palette is in
 * theme-light.css. Kiosk mode (a wall display: no header, fullscreen) lives here too.
 */

import { defineStore } from 'pinia'
import { computed, ref, watch } from 'vue'

export type ThemeMode = 'system' | 'light' | 'dark'
const KEY = 'mini-scheduler.theme'

function stored(): ThemeMode {
  try {
    const v = localStorage.getItem(KEY)
    return v === 'light' || v === 'dark' ? v : 'system'
  } catch {
    return 'system'
  }
}

export const useThemeStore = defineStore('theme', () => {
  const mode = ref<ThemeMode>(stored())
  const media = typeof matchMedia === 'function' ? matchMedia('(prefers-color-scheme: light)') : null
  const systemLight = ref(media?.matches ?? false)
  media?.addEventListener?.('change', (e) => (systemLight.value = e.matches))
  const dark = computed(() => (mode.value === 'system' ? !systemLight.value : mode.value === 'dark'))

  watch(dark, (d) => (document.documentElement.dataset.theme = d ? 'dark' : 'light'), { immediate: true })
  watch(mode, (m) => {
    try {
      if (m === 'system') localStorage.removeItem(KEY)
      else localStorage.setItem(KEY, m)
    } catch {
      /* private mode: the choice lasts this page */
    }
  })

  /** system -> the opposite of what shows now -> system ... */
  function toggle(): void {
    mode.value = mode.value === 'system' ? (dark.value ? 'light' : 'dark') : 'system'
  }

  const kiosk = ref(false)
  watch(kiosk, (on) => {
    if (on) document.documentElement.dataset.kiosk = ''
    else delete document.documentElement.dataset.kiosk
  })

  /** Kiosk on/off: chrome hidden, and fullscreen where the browser allows it. */
  function toggleKiosk(): void {
    kiosk.value = !kiosk.value
    const doc = document as Document & { fullscreenElement?: Element | null }
    if (kiosk.value && !doc.fullscreenElement) document.documentElement.requestFullscreen?.().catch(() => undefined)
    else if (!kiosk.value && doc.fullscreenElement) document.exitFullscreen?.().catch(() => undefined)
  }
  document.addEventListener('fullscreenchange', () => {
    const doc = document as Document & { fullscreenElement?: Element | null }
    if (!doc.fullscreenElement && kiosk.value && fullscreenWasOn) kiosk.value = false
    fullscreenWasOn = !!doc.fullscreenElement
  })
  let fullscreenWasOn = false

  return { mode, dark, toggle, kiosk, toggleKiosk }
})
