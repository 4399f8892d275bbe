// Browser benchmark of the log viewer (issue 8), measured from inside the page, side by side
// with a naive viewer (one element appended per line, scrolled to the bottom) in the same run.
//
//   node bench/browser.mjs            (needs frontend/node_modules: cd frontend && npm ci)
//   BENCH_SECONDS=60 BENCH_RATE=10000 BENCH_HISTORY=100000 BENCH_MILLION=1 node bench/browser.mjs
//
// Starts the demo cluster (daphne + sweeper + three agents), signs in, and:
//   1. streams a task printing BENCH_RATE lines/s for BENCH_SECONDS into the open viewer, then
//      the same into the naive viewer: long tasks (PerformanceObserver), rAF interval
//      percentiles, `log-line` elements in the DOM, JS heap (after a forced GC);
//   2. opens a finished BENCH_HISTORY-line log in each by its address (a fresh page): time to
//      the first painted line and to the whole history held and painted, from the log socket's
//      creation and from navigation; then (ours) from the task list, timed from the click;
//   3. (ours only; BENCH_MILLION=0 skips) a 1,000,000-line log: heap, reveal line 500,000
//      (past the browser's element-height limit at 18 px per line) and a search over all lines.
// Targets: no long task > 50 ms, p95 frame interval <= 16.7 ms, DOM lines bounded by the
// viewport, heap < 150 MB at 1M lines, first paint of a 100k-line history < 100 ms.

import { createRequire } from 'node:module'
import { CHROMIUM_ARGS, chromiumPath, ensureBuilt, startCluster, stopCluster } from '../frontend/e2e/cluster.mjs'

const require = createRequire(new URL('../frontend/package.json', import.meta.url))
const { chromium } = require('playwright-core')

const SECONDS = Number(process.env.BENCH_SECONDS ?? 60)
const RATE = Number(process.env.BENCH_RATE ?? 10_000)
const HISTORY = Number(process.env.BENCH_HISTORY ?? 100_000)
const MILLION = process.env.BENCH_MILLION !== '0'
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms))

// Installed in every page before its own scripts: the measurements are taken by the page. With
// `heldTarget`, the page itself says (on the console) when the viewer holds that many lines, so
// the driver does not poll the page (each poll runs script on its main thread) while the
// history loads.
const PROBE = ({ heldTarget = null } = {}) => {
  const b = (window.__bench = { longTasks: [], frames: [], recording: false, firstLineAt: null, logSocketAt: null, firstMessageAt: null, firstLogFrameAt: null })
  addEventListener('click', () => (b.clickAt ??= performance.now()), true)
  if (heldTarget !== null) {
    const held = new MutationObserver(() => {
      const viewer = document.querySelector('[data-testid=log-viewer]')
      if (viewer && Number(viewer.dataset.lines ?? 0) >= heldTarget) {
        held.disconnect()
        requestAnimationFrame(() => {
          b.allAt = performance.now()
          console.debug('bench:held')
        })
      }
    })
    held.observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-lines'] })
  }
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) b.longTasks.push({ start: e.startTime, duration: e.duration })
  }).observe({ type: 'longtask', buffered: true })
  let last = null
  const tick = (t) => {
    if (b.recording && last !== null) b.frames.push(t - last)
    last = t
    requestAnimationFrame(tick)
  }
  requestAnimationFrame(tick)
  const mo = new MutationObserver(() => {
    if (document.querySelector('[data-testid=log-line]')) {
      mo.disconnect()
      requestAnimationFrame(() => (b.firstLineAt = performance.now()))
    }
  })
  mo.observe(document, { childList: true, subtree: true })
  const Native = window.WebSocket
  window.WebSocket = class extends Native {
    constructor(url, protocols) {
      super(url, protocols)
      if (String(url).includes('/logs/') && b.logSocketAt === null) {
        b.logSocketAt = performance.now()
        this.addEventListener('message', (ev) => {
          b.firstMessageAt ??= performance.now()
          if (b.firstLogFrameAt === null && String(ev.data).includes('"type": "log"')) b.firstLogFrameAt = performance.now()
        })
      }
    }
  }
}

// The naive viewer: what a first version of a log page does. It is served by page.route() on
// the master's origin (so the session cookie applies); Chromium's local-network-access check
// would block its WebSocket to 127.0.0.1 from a fulfilled response, hence the flag below.
const NAIVE_HTML = `<!doctype html><html><head><meta charset="utf-8"><title>naive viewer</title>
<style>body{margin:0;background:#0b0f14;color:#cbd5e1;font:12px/18px monospace}#log{position:fixed;inset:0;overflow:auto}</style></head>
<body><div id="log" data-testid="log-viewer"></div><script>
const id = location.pathname.split('/').pop()
const log = document.getElementById('log')
let lines = 0
const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws/tasks/' + id + '/logs/')
ws.onmessage = (ev) => {
  const f = JSON.parse(ev.data)
  if (f.type !== 'log') return
  const parts = f.data.split('\\n')
  if (parts[parts.length - 1] === '') parts.pop()
  for (const text of parts) {
    const div = document.createElement('div')
    div.dataset.testid = 'log-line'
    div.textContent = text
    if (f.stream === 'stderr') div.style.color = '#fda4af'
    log.appendChild(div)
  }
  lines += parts.length
  log.dataset.lines = lines
  log.scrollTop = log.scrollHeight
}
</script></body></html>`

function percentile(values, p) {
  if (!values.length) return null
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}

/** JS heap used after a forced GC (MB), and the document's DOM node count. */
async function memory(page) {
  const cdp = await page.context().newCDPSession(page)
  await cdp.send('HeapProfiler.collectGarbage')
  await cdp.send('Performance.enable')
  const { metrics } = await cdp.send('Performance.getMetrics')
  await cdp.detach()
  const get = (name) => metrics.find((m) => m.name === name)?.value ?? 0
  return { heap: +(get('JSHeapUsedSize') / 1024 / 1024).toFixed(1), nodes: get('Nodes') }
}

async function submit(page, body) {
  const r = await page.evaluate(async (b) => {
    const csrf = document.cookie.match(/csrftoken=([^;]+)/)?.[1] ?? ''
    const res = await fetch('/api/v1/tasks', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrftoken': csrf }, body: JSON.stringify(b) })
    return { status: res.status, body: await res.json() }
  }, body)
  if (r.status !== 201) throw new Error(`submit failed: ${JSON.stringify(r)}`)
  return r.body.id
}

async function waitStatus(page, id, want, timeoutMs) {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const t = await page.evaluate(async (i) => (await fetch(`/api/v1/tasks/${i}`)).json(), id)
    if (want.includes(t.status)) return t
    if (['FAILED', 'CANCELLED'].includes(t.status)) throw new Error(`task ${id} ${t.status}: ${t.status_message}`)
    await sleep(250)
  }
  throw new Error(`task ${id} not ${want} within ${timeoutMs} ms`)
}

const linesHeld = (page) => page.$eval('[data-testid=log-viewer]', (el) => Number(el.dataset.lines ?? 0)).catch(() => 0)

function streamCommand(rate, seconds) {
  // paced writer: `rate` lines per second for `seconds`, ~70 characters a line
  return `python3 -u -c "
import sys, time
rate, dur = ${rate}, ${seconds}
w = sys.stdout.write
t0 = time.time(); n = 0
while True:
    el = time.time() - t0
    if el >= dur: break
    target = int(el * rate)
    while n < target:
        n += 1
        w('%09d %8.3f the quick brown fox jumps over the lazy dog\\n' % (n, el))
    sys.stdout.flush()
    time.sleep(0.005)
"`
}

/**
 * From a Chrome trace: the renderer main thread's top-level tasks, wall time vs CPU time. On a
 * busy machine a task can be long on the wall clock while the thread was simply not scheduled;
 * the CPU time tells what the page itself spent.
 */
function mainThreadTasks(traceBuffer) {
  const parsed = JSON.parse(traceBuffer.toString())
  const events = Array.isArray(parsed) ? parsed : parsed.traceEvents
  const main = new Set()
  for (const e of events) if (e.ph === 'M' && e.name === 'thread_name' && e.args?.name === 'CrRendererMain') main.add(`${e.pid}:${e.tid}`)
  const tasks = events.filter((e) => e.ph === 'X' && e.name === 'ThreadControllerImpl::RunTask' && main.has(`${e.pid}:${e.tid}`))
  const first = Math.min(...tasks.map((t) => t.ts))
  const last = Math.max(...tasks.map((t) => t.ts + t.dur))
  const cpu = tasks.map((t) => (t.tdur ?? t.dur) / 1000)
  return {
    'tasks > 50 ms wall (trace)': tasks.filter((t) => t.dur > 50_000).length,
    'tasks > 50 ms CPU (trace)': cpu.filter((c) => c > 50).length,
    'longest task CPU ms': +Math.max(0, ...cpu).toFixed(1),
    'main thread CPU busy %': +((100 * cpu.reduce((a, b) => a + b, 0)) / ((last - first) / 1000)).toFixed(1),
  }
}

/** A new page with the probe installed; with `heldTarget`, `page.held` settles once it holds that many lines. */
async function probedPage(context, heldTarget = null) {
  const page = await context.newPage()
  await page.addInitScript(PROBE, { heldTarget })
  if (heldTarget !== null) page.held = new Promise((ok) => page.on('console', (msg) => msg.text() === 'bench:held' && ok()))
  return page
}

async function waitHeld(page, what, ms = 120_000) {
  let timer
  const timeout = new Promise((ok) => (timer = setTimeout(() => ok('timeout'), ms)))
  const outcome = await Promise.race([page.held, timeout])
  clearTimeout(timer)
  if (outcome === 'timeout') throw new Error(`${what}: history not loaded within ${ms / 1000} s (${await linesHeld(page)})`)
}

async function openViewer(context, base, kind, id, heldTarget = null) {
  const page = await probedPage(context, heldTarget)
  if (kind === 'naive') {
    await page.route(`${base}/bench-naive/*`, (route) => route.fulfill({ status: 200, contentType: 'text/html', body: NAIVE_HTML }))
    await page.goto(`${base}/bench-naive/${id}`)
  } else await page.goto(`${base}/tasks/${id}`)
  return page
}

/** Stream a paced task into one viewer; measure from the page while it streams. */
async function streamRun(context, base, kind, signer) {
  const id = await submit(signer, { name: `bench-stream-${kind}`, command: streamCommand(RATE, SECONDS), cpu: 1, mem: 256 })
  const page = await openViewer(context, base, kind, id)
  const deadline = Date.now() + 30_000
  while ((await linesHeld(page)) === 0) {
    if (Date.now() > deadline) throw new Error(`${kind}: no line within 30 s`)
    await sleep(50)
  }
  const browser = context.browser()
  await browser.startTracing(page, { categories: ['toplevel', 'devtools.timeline'] })
  const startedAt = await page.evaluate(() => {
    window.__bench.recording = true
    window.__bench.recordFrom = performance.now()
    return performance.now()
  })
  let maxDom = 0
  const end = Date.now() + SECONDS * 1000
  while (Date.now() < end) {
    maxDom = Math.max(maxDom, await page.locator('[data-testid=log-line]').count().catch(() => maxDom))
    await sleep(2000)
  }
  const m = await page.evaluate((from) => {
    const b = window.__bench
    b.recording = false
    return { frames: b.frames, longTasks: b.longTasks.filter((t) => t.start >= from).map((t) => t.duration), dom: document.querySelectorAll('[data-testid=log-line]').length }
  }, startedAt)
  const trace = mainThreadTasks(await browser.stopTracing())
  const held = await linesHeld(page)
  const mem = await memory(page)
  await page.close()
  await signer.evaluate(async (i) => {
    const csrf = document.cookie.match(/csrftoken=([^;]+)/)?.[1] ?? ''
    await fetch(`/api/v1/tasks/${i}/cancel`, { method: 'POST', headers: { 'x-csrftoken': csrf } })
  }, id)
  return {
    'lines held': held,
    'long tasks (PerformanceObserver)': m.longTasks.length,
    'longest task ms (wall)': Math.round(Math.max(0, ...m.longTasks)),
    'frames': m.frames.length,
    'p50 frame ms': +percentile(m.frames, 50)?.toFixed(1),
    'p95 frame ms': +percentile(m.frames, 95)?.toFixed(1),
    'p99 frame ms': +percentile(m.frames, 99)?.toFixed(1),
    ...trace,
    'log-line elements (end)': m.dom,
    'log-line elements (max)': Math.max(maxDom, m.dom),
    'JS heap MB': mem.heap,
    'DOM nodes': mem.nodes,
  }
}

/** Open a finished log: time to the first painted line and to the whole history painted. */
async function historyRun(context, base, kind, id, total) {
  const page = await openViewer(context, base, kind, id, total)
  await waitHeld(page, kind)
  const t = await page.evaluate(() => {
    const b = window.__bench
    const longTasks = b.longTasks.filter((x) => x.start >= b.logSocketAt).map((x) => x.duration)
    return { socket: b.logSocketAt, message: b.firstMessageAt, logFrame: b.firstLogFrameAt, first: b.firstLineAt, all: b.allAt, longTasks }
  })
  const mem = await memory(page)
  const dom = await page.locator('[data-testid=log-line]').count()
  await page.close()
  return {
    'first frame received ms (from log socket)': Math.round(t.message - t.socket),
    'first log frame received ms (from log socket)': Math.round(t.logFrame - t.socket),
    'first line painted ms (from log socket)': Math.round(t.first - t.socket),
    'first line painted ms (from first log frame)': Math.round(t.first - t.logFrame),
    'first line painted ms (from navigation)': Math.round(t.first),
    'all lines held + painted ms (from log socket)': Math.round(t.all - t.socket),
    'long tasks (after the log socket opened)': t.longTasks.length,
    'longest task ms': Math.round(Math.max(0, ...t.longTasks)),
    'log-line elements': dom,
    'JS heap MB': mem.heap,
    'DOM nodes': mem.nodes,
  }
}

/** Ours only: open the log from the task list (a click on its row's link, no page load). */
async function fromListRun(context, base, id, total) {
  const page = await probedPage(context, total)
  await page.goto(`${base}/tasks`)
  const link = page.locator(`[data-testid=task-row] a[href="/tasks/${id}"]`).first()
  await link.waitFor()
  await sleep(500) // the list settled: its requests answered, nothing else on the main thread
  await link.click()
  await waitHeld(page, 'from the task list')
  const t = await page.evaluate(() => window.__bench)
  await page.close()
  return {
    'log socket opened ms (from the click)': Math.round(t.logSocketAt - t.clickAt),
    'first line painted ms (from the click)': Math.round(t.firstLineAt - t.clickAt),
    'first line painted ms (from log socket)': Math.round(t.firstLineAt - t.logSocketAt),
    'all lines held + painted ms (from the click)': Math.round(t.allAt - t.clickAt),
  }
}

/** Median of each numeric field over runs (rounds alternate between the viewers). */
function medianOf(runs) {
  const out = {}
  for (const key of Object.keys(runs[0])) {
    const values = runs.map((r) => r[key]).sort((a, b) => a - b)
    out[key] = values[Math.floor(values.length / 2)]
  }
  return out
}

async function millionRun(context, base, signer) {
  const total = 1_000_000
  const id = await submit(signer, { name: 'bench-million', command: `seq 1 ${total} | sed 's/$/ the quick brown fox jumps over the lazy dog/'`, cpu: 1, mem: 256 })
  const t0 = Date.now()
  await waitStatus(signer, id, ['SUCCEEDED'], 600_000)
  const produced = Date.now() - t0
  const page = await openViewer(context, base, 'ours', id)
  const l0 = Date.now()
  while ((await linesHeld(page)) < total) {
    if (Date.now() - l0 > 300_000) throw new Error(`1M: only ${await linesHeld(page)} lines after 300 s`)
    await sleep(100)
  }
  const loaded = Date.now() - l0
  const mem = await memory(page)
  const longTasks = await page.evaluate(() => window.__bench.longTasks.filter((x) => x.start >= window.__bench.logSocketAt).map((x) => x.duration))
  const mark = await page.evaluate(() => performance.now())
  // reveal a line in the middle (a same-document hash change: the buffer stays loaded); at
  // 18 px a line, 1M lines are 18M px, past what some browsers can lay out in one element
  await page.goto(`${base}/tasks/${id}#L500000`)
  const r0 = Date.now()
  let shown = null
  while (Date.now() - r0 < 300_000) {
    shown = await page.locator('.log-row.target .log-text').textContent({ timeout: 100 }).catch(() => null)
    if (shown) break
    await sleep(100)
  }
  const revealMs = Date.now() - r0
  // search the whole buffer
  const s0 = Date.now()
  await page.fill('[data-testid=log-search]', '999999 the')
  let count = ''
  while (Date.now() - s0 < 60_000) {
    count = (await page.locator('[data-testid=log-search-count]').textContent()).trim()
    if (/^\d+\/\d+$/.test(count)) break
    await sleep(20)
  }
  const searchMs = Date.now() - s0
  const searchLongTasks = await page.evaluate((from) => window.__bench.longTasks.filter((t) => t.start >= from).map((t) => t.duration), mark)
  await page.close()
  return {
    'task produced 1M lines in ms': produced,
    'lines held': total,
    'history loaded ms': loaded,
    'JS heap MB (1M lines held)': mem.heap,
    'DOM nodes': mem.nodes,
    'long tasks while loading (after the log socket opened)': longTasks.length,
    'longest task ms while loading': Math.round(Math.max(0, ...longTasks)),
    'line 500000 shown': shown?.trim() ?? null,
    'reveal #L500000 ms (measured from the test driver)': revealMs,
    'search "999999 the" result': count,
    'search ms (driver side, 120 ms debounce included)': searchMs,
    'long tasks during reveal + search': searchLongTasks.length,
    'longest task ms during reveal + search': Math.round(Math.max(0, ...searchLongTasks)),
  }
}

function table(title, rows) {
  const keys = [...new Set(Object.values(rows).flatMap((r) => Object.keys(r)))]
  const cols = Object.keys(rows)
  const w0 = Math.max(...keys.map((k) => k.length))
  console.log(`\n## ${title}`)
  console.log(`${''.padEnd(w0)}  ${cols.map((c) => c.padStart(14)).join('  ')}`)
  for (const k of keys) console.log(`${k.padEnd(w0)}  ${cols.map((c) => String(rows[c][k] ?? '—').padStart(14)).join('  ')}`)
}

async function main() {
  ensureBuilt()
  const cluster = await startCluster({ fastTimers: false })
  const { url: base, username, password } = cluster.ready
  console.log(`# cluster at ${base}; ${RATE} lines/s for ${SECONDS} s; history ${HISTORY} lines`)
  console.log(`# load average before: ${(await import('node:os')).loadavg().map((x) => x.toFixed(2)).join(' ')} (the machine's other work shows in wall-clock figures)`)
  const results = {}
  let browser = null
  try {
    browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: [...CHROMIUM_ARGS, '--enable-precise-memory-info', '--disable-features=LocalNetworkAccessChecks'] })
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } })
    const signer = await context.newPage()
    await signer.goto(`${base}/login`)
    await signer.fill('#username', username)
    await signer.fill('#password', password)
    await signer.click('[data-testid=login-submit]')
    await signer.waitForURL(`${base}/`)

    const stream = {}
    for (const kind of ['ours', 'naive']) {
      console.log(`# streaming into the ${kind} viewer…`)
      stream[kind] = await streamRun(context, base, kind, signer)
    }
    table(`${RATE.toLocaleString()} lines/s for ${SECONDS} s into an open viewer`, stream)
    results.stream = stream

    console.log(`\n# producing a ${HISTORY.toLocaleString()}-line history…`)
    const hid = await submit(signer, { name: 'bench-history', command: `seq 1 ${HISTORY} | sed 's/$/ the quick brown fox jumps over the lazy dog/'`, cpu: 1, mem: 256 })
    await waitStatus(signer, hid, ['SUCCEEDED'], 300_000)
    const runs = { ours: [], naive: [] }
    for (let round = 0; round < 3; round++) {
      for (const kind of round % 2 ? ['naive', 'ours'] : ['ours', 'naive']) runs[kind].push(await historyRun(context, base, kind, hid, HISTORY))
    }
    const history = { ours: medianOf(runs.ours), naive: medianOf(runs.naive) }
    table(`opening a finished ${HISTORY.toLocaleString()}-line log by its address, a fresh page (median of 3, alternating)`, history)
    results.history = history
    const fromList = []
    for (let round = 0; round < 3; round++) fromList.push(await fromListRun(context, base, hid, HISTORY))
    results.fromList = { ours: medianOf(fromList) }
    table(`opening it from the task list, a click in the running app (median of 3)`, results.fromList)

    if (MILLION) {
      console.log('\n# producing a 1,000,000-line log…')
      const million = { ours: await millionRun(context, base, signer) }
      table('1,000,000 lines held (ours only: the naive viewer would hold a million elements)', million)
      results.million = million
    }
  } finally {
    await browser?.close()
    await stopCluster(cluster)
  }
  if (process.env.BENCH_JSON) {
    const { writeFileSync } = await import('node:fs')
    writeFileSync(process.env.BENCH_JSON, JSON.stringify(results, null, 2))
  }
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
