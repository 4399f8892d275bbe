// Dev helper: screenshots of the three views against a running stack.
// usage: node e2e/shot.mjs URL USER PASSWORD OUTDIR
import { chromium } from 'playwright-core'

const [url, user, password, out = '/tmp/shots'] = process.argv.slice(2)
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
})
const page = await browser.newPage({ viewport: { width: 1440, height: 900 } })
page.on('console', (m) => m.type() === 'error' || m.type() === 'warning' ? console.log('console.' + m.type(), m.text()) : null)
page.on('pageerror', (e) => console.log('pageerror', e.message))
await page.goto(url + '/login')
await page.fill('#username', user)
await page.fill('#password', password)
await page.click('[data-testid=login-submit]')
await page.waitForSelector('[data-testid=node-card]')
await page.waitForTimeout(1500)
await page.screenshot({ path: `${out}/cluster.png` })
await page.click('[data-testid=nav-tasks]')
await page.click('[data-testid=new-task]')
await page.fill('#f-command', 'for i in $(seq 1 400); do echo "line $i \x1b[32mgreen\x1b[0m"; echo "err $i" >&2; sleep 0.01; done')
await page.fill('#f-name', 'demo-task')
await page.fill('#f-cpu', '0.5')
await page.click('[data-testid=submit-task]')
await page.waitForSelector('[data-testid=log-line]', { timeout: 20000 })
await page.waitForTimeout(3000)
await page.screenshot({ path: `${out}/task.png` })
await page.click('[data-testid=nav-tasks]')
await page.waitForSelector('[data-testid=task-row]')
await page.screenshot({ path: `${out}/tasks.png` })
await browser.close()
