import { describe, expect, it } from 'vitest'
import { nextTick, ref } from 'vue'
import { useFollowScroll } from '../src/composables/useFollowScroll'

/** A scroller with controllable geometry (jsdom does no layout). */
function scroller(content = 1000, viewport = 200) {
  const el = document.createElement('div')
  let top = 0
  const geo = { content, viewport }
  Object.defineProperty(el, 'scrollHeight', { get: () => geo.content })
  Object.defineProperty(el, 'clientHeight', { get: () => geo.viewport })
  Object.defineProperty(el, 'scrollTop', {
    get: () => top,
    set: (v: number) => {
      top = Math.max(0, Math.min(v, geo.content - geo.viewport))
    },
  })
  /** the reader scrolls: an input event, then the scroll it causes */
  const userScroll = (to: number) => {
    el.dispatchEvent(new Event('wheel'))
    el.scrollTop = to
    el.dispatchEvent(new Event('scroll'))
  }
  /** layout moves the position (no input) */
  const layoutScroll = (to: number) => {
    el.scrollTop = to
    el.dispatchEvent(new Event('scroll'))
  }
  return { el, geo, userScroll, layoutScroll }
}

describe('useFollowScroll', () => {
  it('follows: appended content scrolls to the bottom', async () => {
    const s = scroller()
    const follow = useFollowScroll(ref(s.el), { threshold: 8 })
    await nextTick()
    expect(follow.following.value).toBe(true)
    s.geo.content = 2000
    follow.notify(50)
    expect(s.el.scrollTop).toBe(1800)
    s.el.dispatchEvent(new Event('scroll')) // the event our own scroll fires
    expect(follow.following.value).toBe(true)
    expect(follow.newCount.value).toBe(0)
  })

  it('pauses when the reader scrolls up, and counts new lines instead of scrolling', async () => {
    const s = scroller()
    const follow = useFollowScroll(ref(s.el), { threshold: 8 })
    follow.scrollToBottom()
    s.userScroll(500)
    expect(follow.following.value).toBe(false)
    s.geo.content = 3000
    follow.notify(10)
    follow.notify(5)
    expect(s.el.scrollTop).toBe(500) // not moved
    expect(follow.newCount.value).toBe(15)
  })

  it('pauses on an upward scroll even within the bottom threshold', async () => {
    const s = scroller()
    const follow = useFollowScroll(ref(s.el), { threshold: 24 })
    follow.scrollToBottom()
    s.userScroll(795) // 5 px up: still "near" the bottom, but the reader moved up
    expect(follow.following.value).toBe(false)
  })

  it('resumes when the reader scrolls back to the bottom (within the threshold)', async () => {
    const s = scroller()
    const follow = useFollowScroll(ref(s.el), { threshold: 8 })
    follow.scrollToBottom()
    s.userScroll(100)
    follow.notify(3)
    s.userScroll(795)
    expect(follow.following.value).toBe(true)
    expect(follow.newCount.value).toBe(0)
  })

  it('jump() scrolls to the newest line and follows again', async () => {
    const s = scroller()
    const follow = useFollowScroll(ref(s.el), { threshold: 8 })
    s.userScroll(0)
    follow.pause()
    s.geo.content = 5000
    follow.notify(100)
    expect(follow.newCount.value).toBe(100)
    follow.jump()
    expect(s.el.scrollTop).toBe(4800)
    expect(follow.following.value).toBe(true)
    expect(follow.newCount.value).toBe(0)
    s.geo.content = 6000
    follow.notify(1)
    expect(s.el.scrollTop).toBe(5800)
  })

  it('keeps following when layout moves the position (the viewer grew), re-sticking to the bottom', async () => {
    let t = 0
    const s = scroller()
    const follow = useFollowScroll(ref(s.el), { threshold: 8, now: () => t })
    follow.scrollToBottom()
    t = 5000
    s.geo.viewport = 100 // taller content area... the browser moved scrollTop up
    s.layoutScroll(500)
    expect(follow.following.value).toBe(true)
    expect(s.el.scrollTop).toBe(900) // stuck to the bottom again
  })

  it('takes a scroll as the reader\'s only shortly after their input', async () => {
    let t = 0
    const s = scroller()
    const follow = useFollowScroll(ref(s.el), { threshold: 8, intentMs: 500, now: () => t })
    follow.scrollToBottom()
    s.el.dispatchEvent(new Event('keydown')) // e.g. PageUp
    t = 100
    s.layoutScroll(600)
    expect(follow.following.value).toBe(false)
    follow.jump()
    t = 2000 // long after the key press
    s.layoutScroll(300)
    expect(follow.following.value).toBe(true)
  })

  it('treats a scrollbar drag (pointer held) as the reader\'s', async () => {
    let t = 0
    const s = scroller()
    const follow = useFollowScroll(ref(s.el), { threshold: 8, intentMs: 500, now: () => t })
    follow.scrollToBottom()
    s.el.dispatchEvent(new Event('pointerdown'))
    t = 10_000 // a slow drag
    s.layoutScroll(400)
    expect(follow.following.value).toBe(false)
    window.dispatchEvent(new Event('pointerup'))
  })

  it('does not mistake a reader scroll for its own after a scroll that fired no event', async () => {
    const s = scroller()
    const follow = useFollowScroll(ref(s.el), { threshold: 8 })
    follow.scrollToBottom() // at the bottom already: no scroll event would fire
    s.userScroll(300)
    expect(follow.following.value).toBe(false)
  })
})
