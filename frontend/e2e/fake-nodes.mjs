// Dev helper: register N fake nodes with a running master and send one heartbeat each with a
// random usage, to look at the heatmap at scale (they turn UNHEALTHY/OFFLINE when left alone).
//   node e2e/fake-nodes.mjs URL JOIN_TOKEN [N=1000]
const [base, joinToken, n = '1000'] = process.argv.slice(2)
const post = (path, token, body) =>
  fetch(base + path, { method: 'POST', headers: { authorization: `Token ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.json())
const sizes = [[2, 4096], [4, 8192], [8, 16384], [16, 65536]]
for (let i = 0; i < Number(n); i++) {
  const [cpu, mem] = sizes[i % sizes.length]
  const reg = await post('/api/v1/internal/register', joinToken, { name: `fake-${process.env.PREFIX ?? ""}${String(i).padStart(4, "0")}`, cpu, mem, labels: { rack: `r${i % 20}` } })
  const usage = Math.min(100, Math.max(0, 50 + 45 * Math.sin(i / 17) + (Math.random() * 20 - 10)))
  await post(`/api/v1/internal/nodes/${reg.id}/heartbeat`, reg.token, { cpu_usage: usage, mem_usage: Math.random() * 100 })
}
console.log(`registered ${n} nodes`)
