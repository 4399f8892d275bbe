// Dev helper: screenshots of the main views at a viewport against a running stack.
// usage: node e2e/look.mjs URL USER PASSWORD OUTDIR WIDTHxHEIGHT [path ...]
import { chromium } from 'playwright-core'
import { CHROMIUM_ARGS, chromiumPath } from './cluster.mjs'

const [url, user, password, out = '/tmp/shots', size = '1920x1080', ...paths] = process.argv.slice(2)
const [width, height] = size.split('x').map(Number)
const browser = await chromium.launch({ executablePath: chromiumPath, args: CHROMIUM_ARGS })
const page = await browser.newPage({ viewport: { width, height } })
page.on('console', (m) => (m.type() === 'error' || m.type() === 'warning' ? console.log(`console.${m.type()}`, m.text()) : null))
page.on('pageerror', (e) => console.log('pageerror', e.message))
await page.goto(url + '/login')
await page.fill('#username', user)
await page.fill('#password', password)
await page.click('[data-testid=login-submit]')
await page.waitForURL((u) => !u.pathname.startsWith('/login'))
for (const p of paths.length ? paths : ['/', '/tasks', '/tasks?new=1']) {
  await page.goto(url + p)
  await page.waitForTimeout(2500)
  const name = `${size}-${p.replace(/[^a-z0-9]+/gi, '_') || 'root'}.png`
  await page.screenshot({ path: `${out}/${name}` })
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
  console.log(name, 'overflow', overflow)
}
await browser.close()
