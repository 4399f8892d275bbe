/**
 * useFollowScroll: keep a scroller pinned to the bottom while the reader is there, and stop as
 * soon as they scroll up. New content while paused is counted for a "jump to latest (N new)".
 *
 * Our own scrolls are recognised by the position they leave (not by a flag that a scroll event
 * which never fires could leave set), so a reader's scroll is never mistaken for ours.
 */

import { getCurrentScope, onScopeDispose, ref, watch, type Ref } from 'vue'

export interface FollowOptions {
  /** px from the bottom that still counts as "at the bottom" */
  threshold?: number
}

export function useFollowScroll(target: Ref<HTMLElement | null>, { threshold = 8 }: FollowOptions = {}) {
  const following = ref(true)
  const newCount = ref(0)
  let lastTop = 0
  let ownTop: number | null = null

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
    if (!movedUp && distanceFromBottom(el) <= threshold) {
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

  watch(
    target,
    (el, old) => {
      old?.removeEventListener('scroll', onScroll)
      el?.addEventListener('scroll', onScroll, { passive: true })
      if (el) lastTop = el.scrollTop
    },
    { immediate: true },
  )
  if (getCurrentScope()) onScopeDispose(() => target.value?.removeEventListener('scroll', onScroll))

  return { following, newCount, notify, jump, pause, own, scrollToBottom, onScroll }
}
