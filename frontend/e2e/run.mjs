// End-to-end tests of the dashboard against the real stack: `manage.py demo` (daphne master,
// sweeper, three real agents) driven through Debian's Chromium with playwright-core.
//
//   npm run e2e                 start a demo cluster on a free port, run every scenario, stop it
//   E2E_ONLY='heatmap|kiosk' npm run e2e   run the scenarios whose name contains one of the texts
//   E2E_HEADFUL=1 / E2E_SLOWMO=200 for watching; E2E_KEEP=1 leaves the data dir for inspection
//
// Prints one line per scenario and a closing "N passed, N failed"; exits non-zero on a failure.

import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import { CHROMIUM_ARGS, chromiumPath, e2eRedisUrl, ensureBuilt, python, startCluster, stopCluster } from './cluster.mjs'
import { scenarios } from './scenarios.mjs'

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
    args: CHROMIUM_ARGS,
  })
  keepBrowser(browser)
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, acceptDownloads: true })
  const page = await context.newPage()
  page.setDefaultTimeout(15_000)
  const consoleErrors = []
  // Chromium logs every 4xx response as a console error. The ones the scenarios provoke on
  // purpose (a refused login, a submit with field errors) are expected; anything else is a
  // console error of the app.
  const expected = [
    [400, /\/api\/v1\/auth\/login$/],
    [400, /\/api\/v1\/tasks$/],
    [400, /\/api\/v1\/metrics\/history\?/], // the history API's 400s, asked for on purpose
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
    // every scenario needs the session of the first: it runs whatever E2E_ONLY says
    if (only && !only.split('|').some((part) => name.includes(part)) && !name.startsWith('log in')) {
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
      const shot = join(process.env.E2E_FAILURE_DIR ?? tmpdir(), `e2e-failure-${passed + failed}.png`)
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
