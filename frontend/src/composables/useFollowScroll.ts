/**
 * useFollowScroll: keep a scroller pinned to the bottom while the reader is there, and stop as
 * soon as they scroll up. New content while paused is counted for a "jump to latest (N new)".
 *
 * Only the reader pauses it: a scroll counts as theirs when input came just before it (wheel,
 * touch, keys, a pointer held on the scrollbar). Scrolls from layout (the viewer resized, the
 * browser clamping scrollTop) keep following. Our own scrolls are recognised by the position
 * they leave, not by a flag that a scroll event which never fires could leave set.
 */

import { getCurrentScope, onScopeDispose, ref, watch, type Ref } from 'vue'

export interface FollowOptions {
  /** px from the bottom that still counts as "at the bottom" */
  threshold?: number
  /** how long after an input event a scroll is taken as the reader's */
  intentMs?: number
  now?: () => number
}

const INPUT_EVENTS = ['wheel', 'touchstart', 'touchmove', 'keydown'] as const

export function useFollowScroll(target: Ref<HTMLElement | null>, { threshold = 8, intentMs = 700, now = () => performance.now() }: FollowOptions = {}) {
  const following = ref(true)
  const newCount = ref(0)
  let lastTop = 0
  let ownTop: number | null = null
  let lastInput = -Infinity
  let pointerHeld = false

  const onInput = () => {
    lastInput = now()
  }
  const onPointerDown = () => {
    pointerHeld = true
    onInput()
  }
  const onPointerUp = () => {
    if (!pointerHeld) return
    pointerHeld = false
    onInput()
  }

  function readerActive(): boolean {
    return pointerHeld || now() - lastInput < intentMs
  }

  function distanceFromBottom(el: HTMLElement): number {
    return el.scrollHeight - el.scrollTop - el.clientHeight
  }

  function onScroll(): void {
    const el = target.value
    if (!el) return
    const top = el.scrollTop
    if (ownTop !== null && Math.abs(top - ownTop) < 1) {
      lastTop = top
      return
    }
    ownTop = null
    const movedUp = top < lastTop - 0.5
    lastTop = top
    const atBottom = distanceFromBottom(el) <= threshold
    if (!readerActive()) {
      // layout moved the position (resize, clamping): keep the mode, and stay stuck if following
      if (following.value && !atBottom) scrollToBottom()
      return
    }
    if (!movedUp && atBottom) {
      following.value = true
      newCount.value = 0
    } else {
      following.value = false
    }
  }

  function scrollToBottom(): void {
    const el = target.value
    if (!el) return
    el.scrollTop = el.scrollHeight
    ownTop = el.scrollTop
    lastTop = ownTop
  }

  /** Tell it content was appended: stick to the bottom, or count the lines as new. */
  function notify(added: number): void {
    if (following.value) scrollToBottom()
    else newCount.value += added
  }

  /** Scroll to the newest line and follow again. */
  function jump(): void {
    following.value = true
    newCount.value = 0
    scrollToBottom()
  }

  /** Stop following (e.g. the reader jumped to a search hit or a linked line). */
  function pause(): void {
    following.value = false
  }

  /** Record a scroll we made ourselves (so it is not taken for the reader's). */
  function own(): void {
    const el = target.value
    if (!el) return
    ownTop = el.scrollTop
    lastTop = ownTop
  }

  function attach(el: HTMLElement): void {
    el.addEventListener('scroll', onScroll, { passive: true })
    for (const type of INPUT_EVENTS) el.addEventListener(type, onInput, { passive: true })
    el.addEventListener('pointerdown', onPointerDown, { passive: true })
    // a scroller is attached as it mounts, at the top: reading its scrollTop here would force a
    // layout of the page in the middle of mounting it
    lastTop = 0
  }

  function detach(el: HTMLElement): void {
    el.removeEventListener('scroll', onScroll)
    for (const type of INPUT_EVENTS) el.removeEventListener(type, onInput)
    el.removeEventListener('pointerdown', onPointerDown)
  }

  watch(
    target,
    (el, old) => {
      if (old) detach(old)
      if (el) attach(el)
    },
    { immediate: true },
  )
  if (typeof window !== 'undefined') {
    window.addEventListener('pointerup', onPointerUp)
    window.addEventListener('pointercancel', onPointerUp)
  }
  if (getCurrentScope()) {
    onScopeDispose(() => {
      if (target.value) detach(target.value)
      window.removeEventListener('pointerup', onPointerUp)
      window.removeEventListener('pointercancel', onPointerUp)
    })
  }

  return { following, newCount, notify, jump, pause, own, scrollToBottom, onScroll }
}

export type FollowScroll = ReturnType<typeof useFollowScroll>
