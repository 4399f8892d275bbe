// The demo cluster for end-to-end tests and the browser benchmark: `manage.py demo` on a free
// port in a throw-away data dir (daphne master, sweeper, three real agents), plus the dashboard
// build it serves. Stopping it checks every process's log with the error-log guard
// (tests/logguard.py): an ERROR line or a traceback not declared expected fails the run, as does,
// in the browser, a console error, a failed request or a 5xx answer (`watchBrowser`).

import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

export const here = dirname(fileURLToPath(import.meta.url))
export const frontend = resolve(here, '..')
export const repo = resolve(frontend, '..')
export const python = process.env.E2E_PYTHON ?? join(repo, '.venv', 'bin', 'python')
export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

export function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer()
    server.once('error', fail)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => ok(port))
    })
  })
}

export function newestSource(path) {
  const st = statSync(path)
  if (!st.isDirectory()) return st.mtimeMs
  return Math.max(st.mtimeMs, ...readdirSync(path).map((f) => newestSource(join(path, f))))
}

/** Build unless dist/ is newer than every source file (a stale build would test old code). */
export function ensureBuilt() {
  const index = join(frontend, 'dist', 'index.html')
  const sources = ['src', 'index.html', 'vite.config.ts', 'package.json'].map((f) => join(frontend, f))
  if (existsSync(index) && statSync(index).mtimeMs >= Math.max(...sources.map(newestSource)) && !process.env.E2E_REBUILD) return
  console.log('# building the dashboard (dist/ is missing or older than src/)')
  const r = spawnSync('npm', ['run', 'build'], { cwd: frontend, stdio: 'inherit' })
  if (r.status !== 0) throw new Error('npm run build failed')
}

/** E2E_REDIS_URL, or REDIS_URL with its own database number (14) so tests running on it do not mix. */
export function e2eRedisUrl() {
  if (process.env.E2E_REDIS_URL !== undefined) return process.env.E2E_REDIS_URL || null
  if (!process.env.REDIS_URL) return null
  const url = new URL(process.env.REDIS_URL)
  url.pathname = '/14'
  return url.toString()
}

/** Start `manage.py demo`; resolve with the READY payload and the child process. */
export async function startCluster({ fastTimers = true } = {}) {
  const port = await freePort()
  const dataDir = mkdtempSync(join(tmpdir(), 'ms-e2e-'))
  const args = [join(repo, 'manage.py'), 'demo', '--port', String(port), '--data-dir', dataDir, '--no-browser-build']
  if (fastTimers) args.push('--fast-timers')
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
    const timer = setTimeout(() => fail(new Error(`demo did not print READY within 300 s:\n${tail.join('\n')}`)), 300_000)
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

/**
 * Stop the cluster, then check its processes' logs: throws, listing the offending lines, when one
 * holds an ERROR line or a traceback that `expect` (["PROCESS=REGEX", ...], narrow) does not cover.
 */
export async function stopCluster({ child, dataDir }, { expect = [] } = {}) {
  if (child.exitCode === null) {
    const exited = new Promise((ok) => child.once('exit', ok))
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
    await exited
    clearTimeout(timer)
  }
  const guard = spawnSync(python, ['-m', 'tests.logguard', join(dataDir, 'logs'), ...expect.flatMap((e) => ['--expect', e])],
    { cwd: repo, encoding: 'utf8' })
  const clean = guard.status === 0
  if (!process.env.E2E_KEEP && clean) rmSync(dataDir, { recursive: true, force: true })
  else console.log(`# data dir kept: ${dataDir}`)
  if (!clean) throw new Error(guard.stderr || guard.stdout || `the log guard exited with ${guard.status}`)
}

/**
 * Collect what goes wrong in the browser: console errors (but the 4xx answers a scenario provokes,
 * `expected4xx` as [[status, urlRegExp], ...]), uncaught exceptions, failed requests and 5xx
 * answers. Returns the list it fills.
 */
export function watchBrowser(page, { expected4xx = [], expectedFailures = [] } = {}) {
  const errors = []
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return
    const status = Number(/status of (\d{3})/.exec(msg.text())?.[1])
    const url = msg.location()?.url ?? ''
    if (status < 500 && expected4xx.some(([code, re]) => code === status && re.test(url))) return
    errors.push(`console: ${msg.text()} (${url}) on ${page.url()}`)
  })
  page.on('pageerror', (err) => errors.push(`uncaught: ${err.message}`))
  page.on('requestfailed', (request) => {
    const failure = `${request.method()} ${request.url()}: ${request.failure()?.errorText}`
    if (expectedFailures.some((re) => re.test(failure))) return
    errors.push(`request failed: ${failure} on ${page.url()}`)
  })
  page.on('response', (response) => {
    if (response.status() >= 500) errors.push(`${response.status()} from ${response.request().method()} ${response.url()}`)
  })
  return errors
}

export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
