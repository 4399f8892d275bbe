// End-to-end tests of the dashboard against the real stack: `manage.py demo` (daphne master,
// sweeper, three real agents) driven through Debian's Chromium with playwright-core.
//
//   npm run e2e                 start a demo cluster on a free port, run every scenario, stop it
//   E2E_ONLY=heatmap npm run e2e   run the scenarios whose name contains the text
//   E2E_HEADFUL=1 / E2E_SLOWMO=200 for watching; E2E_KEEP=1 leaves the data dir for inspection
//
// Prints one line per scenario and a closing "N passed, N failed"; exits non-zero on a failure.

import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import { scenarios } from './scenarios.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const frontend = resolve(here, '..')
const repo = resolve(frontend, '..')
const python = process.env.E2E_PYTHON ?? join(repo, '.venv', 'bin', 'python')
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer()
    server.once('error', fail)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => ok(port))
    })
  })
}

function newestSource(path) {
  const st = statSync(path)
  if (!st.isDirectory()) return st.mtimeMs
  return Math.max(st.mtimeMs, ...readdirSync(path).map((f) => newestSource(join(path, f))))
}

/** Build unless dist/ is newer than every source file (a stale build would test old code). */
function ensureBuilt() {
  const index = join(frontend, 'dist', 'index.html')
  const sources = ['src', 'index.html', 'vite.config.ts', 'package.json'].map((f) => join(frontend, f))
  if (existsSync(index) && statSync(index).mtimeMs >= Math.max(...sources.map(newestSource)) && !process.env.E2E_REBUILD) return
  console.log('# building the dashboard (dist/ is missing or older than src/)')
  const r = spawnSync('npm', ['run', 'build'], { cwd: frontend, stdio: 'inherit' })
  if (r.status !== 0) throw new Error('npm run build failed')
}

/** E2E_REDIS_URL, or REDIS_URL with its own database number (14) so tests running on it do not mix. */
function e2eRedisUrl() {
  if (process.env.E2E_REDIS_URL !== undefined) return process.env.E2E_REDIS_URL || null
  if (!process.env.REDIS_URL) return null
  const url = new URL(process.env.REDIS_URL)
  url.pathname = '/14'
  return url.toString()
}

/** Start `manage.py demo`; resolve with the READY payload and the child process. */
async function startCluster() {
  const port = await freePort()
  const dataDir = mkdtempSync(join(tmpdir(), 'ms-e2e-'))
  const args = [join(repo, 'manage.py'), 'demo', '--port', String(port), '--data-dir', dataDir, '--fast-timers', '--no-browser-build']
  // With Redis the sweeper's node transitions reach the browsers' socket as in production;
  // without it the dashboard still sees them through its periodic re-read of the nodes.
  const redis = e2eRedisUrl()
  if (redis) args.push('--redis-url', redis)
  const child = spawn(
    python,
    args,
    { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PYTHONUNBUFFERED: '1' } },
  )
  const tail = []
  const keep = (line) => {
    tail.push(line)
    if (tail.length > 60) tail.shift()
  }
  createInterface({ input: child.stderr }).on('line', keep)
  const ready = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`demo did not print READY within 120 s:\n${tail.join('\n')}`)), 120_000)
    createInterface({ input: child.stdout }).on('line', (line) => {
      keep(line)
      if (line.startsWith('READY ')) {
        clearTimeout(timer)
        ok(JSON.parse(line.slice(6)))
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      fail(new Error(`demo exited (${code}) before READY:\n${tail.join('\n')}`))
    })
  })
  return { ready, child, dataDir, tail }
}

async function stopCluster({ child, dataDir }) {
  if (child.exitCode === null) {
    const exited = new Promise((ok) => child.once('exit', ok))
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
    await exited
    clearTimeout(timer)
  }
  if (!process.env.E2E_KEEP) rmSync(dataDir, { recursive: true, force: true })
  else console.log(`# data dir kept: ${dataDir}`)
}

async function main() {
  if (!existsSync(chromiumPath)) throw new Error(`${chromiumPath} is missing: apt-get install -y chromium`)
  if (!existsSync(python)) throw new Error(`${python} is missing: run make venv`)
  ensureBuilt()
  const cluster = await startCluster()
  console.log(`# cluster at ${cluster.ready.url} (agents: ${Object.keys(cluster.ready.agents).join(', ')}; channel layer: ${e2eRedisUrl() ?? 'in-memory'})`)
  let browser
  try {
    return await runAll(cluster, (b) => (browser = b))
  } finally {
    await browser?.close().catch(() => undefined)
    await stopCluster(cluster)
  }
}

async function runAll(cluster, keepBrowser) {
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: !process.env.E2E_HEADFUL,
    slowMo: Number(process.env.E2E_SLOWMO ?? 0),
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
  keepBrowser(browser)
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, acceptDownloads: true })
  const page = await context.newPage()
  page.setDefaultTimeout(15_000)
  const consoleErrors = []
  // Chromium logs every 4xx response as a console error. The ones the contract makes normal
  // (who-am-I while signed out, a refused login, a submit with field errors) are expected;
  // anything else is a console error of the app.
  const expected = [
    [401, /\/api\/v1\/auth\/me$/],
    [400, /\/api\/v1\/auth\/login$/],
    [400, /\/api\/v1\/tasks$/],
  ]
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return
    const status = Number(/status of (\d{3})/.exec(msg.text())?.[1])
    const url = msg.location()?.url ?? ''
    if (expected.some(([code, re]) => code === status && re.test(url))) return
    consoleErrors.push(`${msg.text()} (${url}) on ${page.url()}`)
  })
  page.on('pageerror', (err) => consoleErrors.push(`uncaught: ${err.message}`))

  const ctx = { page, context, ready: cluster.ready, base: cluster.ready.url, consoleErrors, state: {} }
  const only = process.env.E2E_ONLY
  let passed = 0
  let failed = 0
  let skipped = 0
  let broken = false
  for (const [name, fn] of scenarios) {
    if (only && !name.includes(only)) {
      skipped++
      continue
    }
    if (broken) {
      console.log(`- ${name} (skipped: an earlier scenario it depends on failed)`)
      failed++
      continue
    }
    const t0 = Date.now()
    try {
      await fn(ctx)
      passed++
      console.log(`✓ ${name} (${Date.now() - t0} ms)`)
    } catch (err) {
      failed++
      console.log(`✗ ${name} (${Date.now() - t0} ms)\n    ${String(err?.stack ?? err).split('\n').slice(0, 6).join('\n    ')}`)
      const shot = join(tmpdir(), `e2e-failure-${passed + failed}.png`)
      await page.screenshot({ path: shot }).catch(() => undefined)
      console.log(`    screenshot: ${shot}`)
      if (name.startsWith('log in')) broken = true
    }
  }
  if (failed) console.log(`# last lines of the demo:\n${cluster.tail.slice(-20).join('\n')}`)
  console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`)
  process.exitCode = failed ? 1 : 0
}

main().catch((err) => {
  console.error(err)
  console.log('0 passed, 1 failed')
  process.exitCode = 1
})
