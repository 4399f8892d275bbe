// End-to-end tests of the dashboard against the real stack: `manage.py demo` (daphne master,
// sweeper, three real agents) driven through Debian's Chromium with playwright-core.
//
//   npm run e2e                 start a demo cluster on a free port, run every scenario, stop it
//   E2E_ONLY='heatmap|kiosk' npm run e2e   run the scenarios whose name contains one of the texts
//   E2E_HEADFUL=1 / E2E_SLOWMO=200 for watching; E2E_KEEP=1 leaves the data dir for inspection
//
// Prints one line per scenario and a closing "N passed, N failed"; exits non-zero on a failure.
// The browser's console errors, failed requests and 5xx answers fail the run (the last scenario),
// and so does an ERROR line or traceback in any of the cluster's processes' logs (checked when
// the cluster stops; see cluster.mjs).

import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import { CHROMIUM_ARGS, chromiumPath, e2eRedisUrl, ensureBuilt, python, startCluster, stopCluster, watchBrowser } from './cluster.mjs'
import { scenarios } from './scenarios.mjs'

// Errors the scenarios provoke on purpose in the cluster's processes (tests/logguard.py's
// PROCESS=REGEX): none. The killed agent (SIGKILL) shows as warnings and info, never an error.
const EXPECTED_LOG_ERRORS = []

async function main() {
  if (!existsSync(chromiumPath)) throw new Error(`${chromiumPath} is missing: apt-get install -y chromium`)
  if (!existsSync(python)) throw new Error(`${python} is missing: run make venv`)
  ensureBuilt()
  const cluster = await startCluster()
  console.log(`# cluster at ${cluster.ready.url} (agents: ${Object.keys(cluster.ready.agents).join(', ')}; channel layer: ${e2eRedisUrl() ?? 'in-memory'})`)
  let browser
  let counts = { passed: 0, failed: 0, skipped: 0 }
  try {
    counts = await runAll(cluster, (b) => (browser = b))
  } finally {
    await browser?.close().catch(() => undefined)
    try {
      await stopCluster(cluster, { expect: EXPECTED_LOG_ERRORS })
      counts.passed++
      console.log('✓ no unexpected ERROR line or traceback in the cluster\'s logs')
    } catch (err) {
      counts.failed++
      console.log(`✗ the cluster's logs hold errors no scenario provoked\n    ${String(err.message).split('\n').join('\n    ')}`)
    }
  }
  const { passed, failed, skipped } = counts
  console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`)
  process.exitCode = failed ? 1 : 0
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
  // Chromium logs every 4xx response as a console error. The ones the scenarios provoke on
  // purpose (a refused login, a submit with field errors) are expected; anything else is a
  // console error of the app, as is a failed request or a 5xx answer.
  const consoleErrors = watchBrowser(page, {
    expected4xx: [
      [400, /\/api\/v1\/auth\/login$/],
      [400, /\/api\/v1\/tasks$/],
      [400, /\/api\/v1\/metrics\/history\?/], // the history API's 400s, asked for on purpose
    ],
    // A read the browser or the app called off (the scenario navigated away while it was in
    // flight, or a newer read superseded it) ends as net::ERR_ABORTED: cancelled, not failed.
    expectedFailures: [/^GET \S+\/api\/v1\/\S+: net::ERR_ABORTED$/],
  })

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
  return { passed, failed, skipped }
}

main().catch((err) => {
  console.error(err)
  console.log('0 passed, 1 failed')
  process.exitCode = 1
})
