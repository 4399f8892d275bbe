// The end-to-end scenarios of issue 8, in order (later ones use the session of the first).
// Each is [name, async (ctx) => {...}] and throws on failure.

import assert from 'node:assert/strict'
import { after, before } from './operations.mjs'

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms))

/** Poll `fn` until it returns a truthy value (or throw after `timeout` ms with `what`). */
async function until(fn, what, timeout = 15_000, every = 100) {
  const deadline = Date.now() + timeout
  let last
  while (Date.now() < deadline) {
    last = await fn()
    if (last) return last
    await sleep(every)
  }
  throw new Error(`timed out after ${timeout} ms waiting for ${what} (last: ${JSON.stringify(last)})`)
}

async function apiPost(ctx, path, body) {
  // same session as the page: the browser's cookies and CSRF token
  return ctx.page.evaluate(
    async ([p, b]) => {
      const csrf = document.cookie.match(/csrftoken=([^;]+)/)?.[1] ?? ''
      const r = await fetch(p, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrftoken': csrf }, body: JSON.stringify(b) })
      return { status: r.status, body: await r.json().catch(() => null) }
    },
    [path, body],
  )
}

const lineCount = (page) => page.locator('[data-testid=log-viewer]').getAttribute('data-lines').then(Number)
const following = (page) => page.locator('[data-testid=log-viewer]').getAttribute('data-following')
const taskStatus = (page) => page.locator('[data-testid=task-status] [data-testid=status]').textContent().then((s) => s?.trim())
const renderedLines = (page) =>
  page.$$eval('[data-testid=log-line]', (els) => els.map((e) => ({ n: Number(e.dataset.line), text: e.querySelector('.log-text')?.textContent ?? '', top: e.getBoundingClientRect().top, cls: e.className })))

/** Rendered rows actually inside the scroller's visible box, sorted by line number. */
async function visibleLines(page) {
  return page.evaluate(() => {
    const box = document.querySelector('[data-testid=log-scroller]').getBoundingClientRect()
    return [...document.querySelectorAll('[data-testid=log-line]')]
      .filter((e) => {
        const r = e.getBoundingClientRect()
        return r.bottom > box.top + 1 && r.top < box.bottom - 1
      })
      .map((e) => Number(e.dataset.line))
      .sort((a, b) => a - b)
  })
}

export const scenarios = [
  [
    'log in (wrong password refused, then signed in)',
    async ({ page, base, ready }) => {
      await page.goto(`${base}/tasks`)
      await page.waitForURL(/\/login\?next=/)
      await page.fill('#username', ready.username)
      await page.fill('#password', 'not-the-password')
      await page.click('[data-testid=login-submit]')
      await page.locator('[data-testid=login-error]').waitFor()
      assert.match(await page.locator('[data-testid=login-error]').textContent(), /wrong username or password/i)
      await page.fill('#password', ready.password)
      await page.click('[data-testid=login-submit]')
      await page.waitForURL(`${base}/tasks`)
      assert.equal((await page.locator('[data-testid=username]').textContent()).trim(), ready.username)
    },
  ],
  [
    'heatmap shows the three agents, live',
    async ({ page, base }) => {
      await page.goto(`${base}/`)
      await until(async () => (await page.locator('[data-testid=node-card]').count()) === 3, 'three node cards')
      const names = await page.$$eval('[data-testid=node-card]', (els) => els.map((e) => e.dataset.node).sort())
      assert.deepEqual(names, ['large', 'medium', 'small'])
      await until(
        async () => (await page.$$eval('[data-testid=node-card]', (els) => els.map((e) => e.dataset.status))).every((s) => s === 'ONLINE'),
        'all nodes ONLINE',
      )
      assert.equal((await page.locator('[data-testid=total-nodes]').textContent()).trim(), '3')
      const large = page.locator('[data-testid=node-card][data-node=large]')
      assert.match(await large.locator('[data-testid=node-cpu-alloc]').textContent(), /\/4$/)
      await until(async () => (await page.locator('[data-testid=connection-state]').getAttribute('data-state')) === 'live', 'live connection indicator')
    },
  ],
  [
    'submit form shows the API field errors next to the fields',
    async ({ page, base }) => {
      await page.goto(`${base}/tasks`)
      await page.click('[data-testid=new-task]')
      await page.fill('#f-command', 'echo never')
      await page.fill('#f-cpu', '-3')
      await page.fill('#f-max', '1000')
      await page.click('[data-testid=submit-task]')
      await page.locator('[data-testid=error-cpu]').waitFor()
      await page.locator('[data-testid=error-max_attempts]').waitFor()
      assert.ok((await page.locator('[data-testid=error-cpu]').textContent()).length > 3)
      assert.match(page.url(), /\/tasks\?new=1$/) // nothing was created
      await page.fill('#f-command', '')
      await page.click('[data-testid=submit-task]')
      await page.locator('[data-testid=error-command]').waitFor()
    },
  ],
  [
    'submit a task from the form, watch its status change and its lines stream',
    async (ctx) => {
      const { page, base } = ctx
      await page.goto(`${base}/tasks?new=1`)
      await page.fill('#f-name', 'e2e-stream')
      await page.fill('#f-command', 'for i in $(seq 1 150); do echo "out line $i"; echo "err line $i" >&2; sleep 0.03; done; printf "\\033[32mgreen done\\033[0m\\n"')
      await page.fill('#f-cpu', '0.5')
      await page.fill('#f-mem', '64')
      await page.fill('#f-env', 'GREETING=hi')
      await page.click('[data-testid=submit-task]')
      await page.waitForURL(/\/tasks\/\d+$/)
      ctx.state.streamTask = Number(page.url().split('/').pop())
      const seen = new Set()
      await until(async () => {
        seen.add(await taskStatus(page))
        return seen.has('RUNNING')
      }, 'status RUNNING', 20_000, 50)
      // lines arrive while it runs
      const first = await until(async () => (await lineCount(page)) > 0 && lineCount(page), 'first log lines')
      await until(async () => (await lineCount(page)) > first, 'more lines while running', 10_000)
      assert.equal(await taskStatus(page), 'RUNNING')
      await until(async () => (await taskStatus(page)) === 'SUCCEEDED', 'status SUCCEEDED', 30_000)
      await until(async () => (await lineCount(page)) === 301, 'all 301 lines', 10_000)
      // at the bottom, following: the last line is on screen, coloured by its ANSI codes
      assert.equal(await following(page), 'true')
      const vis = await visibleLines(page)
      assert.equal(vis[vis.length - 1], 301)
      // (stdout and stderr travel as separate chunks: their relative order is not fixed)
      const done = page.locator('[data-testid=log-line]', { hasText: 'green done' })
      assert.equal((await done.locator('.log-text').textContent()).trim(), 'green done')
      assert.match(await done.locator('.log-text span').getAttribute('style'), /color/)
      // stderr lines are marked
      const rows = await renderedLines(page)
      const err = rows.find((r) => r.text.startsWith('err line'))
      assert.ok(err && err.cls.includes('stderr'), 'stderr row is distinguished')
      assert.ok(!rows.find((r) => r.text.startsWith('out line')).cls.includes('stderr'))
      // the event history explains the transitions
      await until(async () => {
        const events = await page.locator('[data-testid=task-event]').allTextContents()
        return events.some((e) => /ASSIGNED→RUNNING/.test(e)) && events.some((e) => /RUNNING→SUCCEEDED/.test(e))
      }, 'RUNNING and SUCCEEDED in the event history', 5000)
    },
  ],
  [
    'log viewer: search, stream filter, timestamps, linkable lines, raw download',
    async ({ page, base, state }) => {
      assert.ok(state.streamTask, 'needs the streamed task')
      await page.fill('[data-testid=log-search]', 'err line 42')
      await until(async () => /^1\/1$/.test((await page.locator('[data-testid=log-search-count]').textContent()).trim()), 'one hit')
      await until(async () => (await visibleLines(page)).length > 0 && (await page.locator('.log-row.current-hit').count()) === 1, 'hit shown')
      assert.match(await page.locator('.log-row.current-hit mark').first().textContent(), /err line 42/i)
      assert.equal(await following(page), 'false', 'jumping to a hit pauses follow')
      await page.fill('[data-testid=log-search]', 'line 1')
      await until(async () => /\/\d+/.test(await page.locator('[data-testid=log-search-count]').textContent()), 'several hits')
      const before = (await page.locator('[data-testid=log-search-count]').textContent()).trim()
      await page.press('[data-testid=log-search]', 'Enter')
      await until(async () => (await page.locator('[data-testid=log-search-count]').textContent()).trim() !== before, 'next hit')
      await page.fill('[data-testid=log-search]', '')

      await page.click('[data-testid=log-filter-stderr]')
      await until(async () => {
        const rows = await renderedLines(page)
        return rows.length > 0 && rows.every((r) => r.cls.includes('stderr'))
      }, 'only stderr rows')
      await page.click('[data-testid=log-filter-all]')

      await page.click('[data-testid=log-toggle-ts]')
      const withTs = await page.locator('[data-testid=log-line]').first().textContent()
      assert.match(withTs, /\d\d:\d\d:\d\d\.\d{3}/)
      await page.click('[data-testid=log-toggle-ts]')

      // a line number is a link: #L10, and opening it reveals that line
      await page.goto(`${base}/tasks/${state.streamTask}#L10`)
      await until(async () => (await page.locator('.log-row.target').getAttribute('data-line').catch(() => null)) === '10', 'line 10 highlighted')
      assert.ok((await visibleLines(page)).includes(10))
      await page.locator('[data-testid=log-line][data-line="12"] a').click()
      await page.waitForURL(/#L12$/)

      const raw = await page.evaluate(async (url) => (await fetch(url)).text(), await page.locator('[data-testid=log-download]').getAttribute('href'))
      assert.equal(raw.split('\n').filter(Boolean).length, 301)
    },
  ],
  [
    'follow pauses when scrolled up, counts new lines, jump returns to the latest; cancel stops the task',
    async ({ page, base }) => {
      const res = await apiPost({ page }, '/api/v1/tasks', { name: 'e2e-follow', command: 'i=0; while true; do i=$((i+1)); echo "tick $i"; sleep 0.01; done', cpu: 0.5, mem: 64 })
      assert.equal(res.status, 201)
      const id = res.body.id
      await page.goto(`${base}/tasks/${id}`)
      await until(async () => (await lineCount(page)) > 400, 'a screenful and more of ticks', 30_000)
      assert.equal(await following(page), 'true')
      const bottom = await visibleLines(page)
      assert.ok((await lineCount(page)) - bottom[bottom.length - 1] < 50, 'following shows the newest lines')

      // scroll up: follow pauses and the view stays put while lines keep arriving
      await page.locator('[data-testid=log-scroller]').hover()
      await page.mouse.wheel(0, -1500)
      await until(async () => (await following(page)) === 'false', 'follow paused')
      await sleep(300)
      const held = await visibleLines(page)
      const countThen = await lineCount(page)
      await until(async () => (await lineCount(page)) > countThen + 50, 'more lines arrive', 10_000)
      const stillHeld = await visibleLines(page)
      assert.equal(stillHeld[0], held[0], 'view did not move while paused')
      const jump = page.locator('[data-testid=jump-latest]')
      await until(async () => /\((\d[\d,]*) new\)/.test(await jump.textContent()), 'jump button counts new lines')

      // DOM holds only the rows in view
      const rendered = await page.locator('[data-testid=log-line]').count()
      assert.ok(rendered < 80, `rendered rows bounded by the viewport (${rendered})`)

      await jump.click()
      await until(async () => (await following(page)) === 'true', 'following again')
      await until(async () => {
        const vis = await visibleLines(page)
        return (await lineCount(page)) - vis[vis.length - 1] < 50
      }, 'back at the newest lines')
      assert.equal(await page.locator('[data-testid=jump-latest]').count(), 0)

      // cancel it
      await page.click('[data-testid=cancel-task]')
      await until(async () => (await taskStatus(page)) === 'CANCELLED', 'status CANCELLED', 20_000)
      await page.goto(`${base}/tasks?status=CANCELLED`)
      await page.locator(`[data-testid=task-row][data-task-id="${id}"][data-status=CANCELLED]`).waitFor()
    },
  ],
  [
    'tasks table: live rows, status filter and cancel button',
    async ({ page, base }) => {
      await page.goto(`${base}/tasks?status=RUNNING,PENDING,ASSIGNED`)
      const res = await apiPost({ page }, '/api/v1/tasks', { name: 'e2e-table', command: 'sleep 60', cpu: 0.25, mem: 32 })
      assert.equal(res.status, 201)
      const row = page.locator(`[data-testid=task-row][data-task-id="${res.body.id}"]`)
      await row.waitFor() // arrives over the events socket, no reload
      try {
        await until(async () => (await row.getAttribute('data-status')) === 'RUNNING', 'row turns RUNNING', 20_000)
      } catch (err) {
        const api = await page.evaluate(async (id) => (await fetch(`/api/v1/tasks/${id}`)).json(), res.body.id)
        throw new Error(`${err.message}; the API says ${api.status} (${api.status_reason}: ${api.status_message}) on ${api.node_name}`)
      }
      await row.locator('[data-testid=cancel-task]').click()
      await until(async () => (await row.count()) === 0, 'cancelled row leaves the filtered table', 20_000)
      await page.click('[data-testid=filter-CANCELLED]')
      await page.locator(`[data-testid=task-row][data-task-id="${res.body.id}"][data-status=CANCELLED]`).waitFor()
    },
  ],
  [
    'a 300,000-line log opens at its end (tail first), pages up, #L loads its page, the master searches it all',
    async ({ page, base }) => {
      const res = await apiPost({ page }, '/api/v1/tasks', { name: 'e2e-big', command: 'seq 1 300000', cpu: 0.25, mem: 64 })
      assert.equal(res.status, 201)
      const id = res.body.id
      await until(async () => {
        const r = await page.evaluate(async (u) => (await fetch(u)).json(), `/api/v1/tasks/${id}`)
        return r.status === 'SUCCEEDED'
      }, 'the task done', 60_000, 250)
      const stored = () => page.evaluate(async (u) => (await fetch(u)).json(), `/api/v1/tasks/${id}/logs?tail=1&limit=1`)
      await until(async () => (await stored()).total_lines === 300000, 'stored in full', 60_000, 250)
      const total = () => page.locator('[data-testid=log-line-count]').getAttribute('data-total').then(Number)
      // tail first: the last line shows with its real number, the page holds a bounded window
      await page.goto(`${base}/tasks/${id}`)
      await until(async () => (await visibleLines(page)).at(-1) === 300000, 'the last line painted', 30_000, 50)
      assert.equal((await page.locator('[data-testid=log-line][data-line="300000"] .log-text').textContent()).trim(), '300000')
      const held = await lineCount(page)
      assert.ok(held > 0 && held < 300000, `a window, not the whole log (${held} lines held)`)
      assert.equal(await total(), 300000)
      assert.ok((await page.locator('[data-testid=log-line]').count()) < 80, 'rendered rows bounded')
      await page.locator('[data-testid=log-window]').waitFor()
      // scrolling up loads older pages in front, keeping the place
      const firstHeld = async () => Math.min(...(await visibleLines(page)))
      for (let i = 0; i < 3; i++) {
        await page.locator('[data-testid=log-scroller]').evaluate((el) => (el.scrollTop = 0))
        await page.locator('[data-testid=log-scroller]').dispatchEvent('scroll')
        await until(async () => (await lineCount(page)) > held, 'an older page in front', 20_000)
      }
      assert.ok((await firstHeld()) > 1)
      // #L into a page not held: it is loaded and revealed
      await page.goto(`${base}/tasks/${id}#L1234`)
      await until(async () => (await page.locator('.log-row.target').getAttribute('data-line').catch(() => null)) === '1234', 'line 1234 revealed', 30_000, 100)
      assert.equal((await page.locator('.log-row.target .log-text').textContent()).trim(), '1234')
      // back to the end
      await page.click('[data-testid=jump-latest]')
      await until(async () => (await visibleLines(page)).at(-1) === 300000, 'back at the last line', 30_000, 100).catch(async (e) => {
        const m = await page.locator('[data-testid=log-scroller]').evaluate((el) => ({ top: el.scrollTop, h: el.scrollHeight, ch: el.clientHeight, rows: document.querySelectorAll('[data-testid=log-line]').length, lines: el.closest('[data-testid=log-viewer]').dataset.lines, f: el.closest('[data-testid=log-viewer]').dataset.following }))
        throw new Error(`${e.message} ${JSON.stringify(m)}`)
      })
      // the master's search: counts over the whole log and shows a hit far outside the window
      await page.fill('[data-testid=log-search]', '12345')
      await until(async () => /^1\/\d+$/.test((await page.locator('[data-testid=log-search-count]').textContent()).trim()), 'a count', 20_000)
      const count = Number((await page.locator('[data-testid=log-search-count]').textContent()).trim().split('/')[1].replace(/\D/g, ''))
      assert.equal(count, 13, 'every line of 1..300000 holding 12345')
      await until(async () => (await page.locator('.log-row.target .log-text').textContent().catch(() => '')).trim() === '12345', 'the first hit loaded', 20_000)
    },
  ],
  [
    'merged order across stdout and stderr, a progress line rewritten by \\r, jump to the first error',
    async ({ page, base }) => {
      const command = "for i in $(seq 1 20); do echo out $i; sleep 0.02; echo err $i >&2; sleep 0.02; done; " +
        "printf 'progress 10%%'; sleep 0.2; printf '\\rprogress 100%%\\n'"
      const res = await apiPost({ page }, '/api/v1/tasks', { name: 'e2e-order', command, cpu: 0.25, mem: 32 })
      assert.equal(res.status, 201)
      await page.goto(`${base}/tasks/${res.body.id}`)
      await until(async () => (await lineCount(page)) === 41, 'all 41 lines', 30_000)
      // line 41 shows 'progress 10%' (a partial line) until the \r rewrite arrives
      await until(async () => (await renderedLines(page)).find((r) => r.n === 41)?.text.trim() === 'progress 100%', 'the progress line rewritten', 15_000)
      const rows = (await renderedLines(page)).sort((a, b) => a.n - b.n)
      const expected = []
      for (let i = 1; i <= 20; i++) expected.push(`out ${i}`, `err ${i}`)
      assert.deepEqual(rows.slice(0, 40).map((r) => r.text.trim()), expected.slice(0, rows.slice(0, 40).length))
      assert.equal(rows.find((r) => r.n === 41)?.text.trim(), 'progress 100%')
      assert.ok(rows.find((r) => r.n === 2).cls.includes('stderr'))
      await page.click('[data-testid=log-toggle-ts]')
      const stamped = await page.locator('[data-testid=log-line][data-line="2"]').textContent()
      assert.match(stamped, /\d\d:\d\d:\d\d\.\d{3}/, 'a time to the millisecond per line')
      await page.click('[data-testid=log-toggle-ts]')
      await page.click('[data-testid=log-first-error]')
      await until(async () => (await page.locator('.log-row.target').getAttribute('data-line').catch(() => null)) === '2', 'first error revealed', 10_000)
    },
  ],
  [
    'wrap toggle: a long line takes several fixed-height rows',
    async ({ page, base }) => {
      const res = await apiPost({ page }, '/api/v1/tasks', { name: 'e2e-wrap', command: "echo short; python3 -c \"print('x' * 3000)\"; echo after", cpu: 0.25, mem: 32 })
      assert.equal(res.status, 201)
      await page.goto(`${base}/tasks/${res.body.id}`)
      await until(async () => (await lineCount(page)) === 3, 'three lines')
      const height = (n) => page.locator(`[data-testid=log-line][data-line="${n}"]`).evaluate((e) => e.getBoundingClientRect().height)
      assert.equal(await height(2), 18)
      await page.click('[data-testid=log-toggle-wrap]')
      await until(async () => (await height(2)) > 18 * 3, 'the long line wrapped')
      assert.equal((await height(2)) % 18, 0)
      assert.equal(await height(1), 18)
      const y3 = await page.locator('[data-testid=log-line][data-line="3"]').evaluate((e) => e.getBoundingClientRect().top)
      const y2 = await page.locator('[data-testid=log-line][data-line="2"]').evaluate((e) => e.getBoundingClientRect().bottom)
      assert.ok(Math.abs(y3 - y2) < 1, 'the next line starts where the wrapped one ends')
      await page.click('[data-testid=log-toggle-wrap]')
      await until(async () => (await height(2)) === 18, 'unwrapped again')
    },
  ],
  ...before,
  [
    'a killed agent turns UNHEALTHY, then OFFLINE',
    async ({ page, base, ready }) => {
      await page.goto(`${base}/`)
      const card = page.locator('[data-testid=node-card][data-node=small]')
      await until(async () => (await card.getAttribute('data-status')) === 'ONLINE', 'small ONLINE')
      // record every status the card shows, however briefly
      await page.evaluate(() => {
        const seen = (window.__smallStatuses = [])
        const read = () => {
          const s = document.querySelector('[data-testid=node-card][data-node=small]')?.dataset.status
          if (s && seen[seen.length - 1] !== s) seen.push(s)
        }
        new MutationObserver(read).observe(document.body, { subtree: true, attributes: true, childList: true })
        read()
      })
      process.kill(ready.agents.small, 'SIGKILL')
      await until(async () => (await card.getAttribute('data-status')) === 'OFFLINE', 'small OFFLINE', 20_000)
      const seen = await page.evaluate(() => window.__smallStatuses)
      assert.deepEqual(seen, ['ONLINE', 'UNHEALTHY', 'OFFLINE'])
      assert.match(await card.locator('[data-testid=node-status]').textContent(), /OFFLINE/)
      const others = await page.$$eval('[data-testid=node-card]:not([data-node=small])', (els) => els.map((e) => e.dataset.status))
      assert.deepEqual(others, ['ONLINE', 'ONLINE'])
    },
  ],
  ...after,
  [
    'the API docs render without internet: Swagger UI comes from the master itself',
    async ({ page, base }) => {
      await page.goto(`${base}/api/docs/`)
      await page.waitForSelector('.swagger-ui .opblock', { timeout: 20_000 })
      const elsewhere = await page.evaluate(() =>
        performance.getEntriesByType('resource').map((e) => e.name).filter((url) => !url.startsWith(location.origin)))
      assert.deepEqual(elsewhere, [])
      await page.goto(`${base}/`) // back to the app for the next scenario
      await page.waitForSelector('[data-testid=logout]')
    },
  ],
  [
    'sign out',
    async ({ page, base }) => {
      await page.click('[data-testid=logout]')
      await page.waitForURL(/\/login/)
      await page.goto(`${base}/tasks`)
      await page.waitForURL(/\/login\?next=/)
    },
  ],
  [
    'no console error, failed request or 5xx answer during the run',
    async ({ consoleErrors }) => {
      assert.deepEqual(consoleErrors, [])
    },
  ],
]
