"""How many nodes one master holds: simulated agents (asyncio, thousands per process) heartbeat over
the agent WebSocket every 3 s against one daphne master on PostgreSQL, with the sweeper running on
the default timers. The node count rises in steps until heartbeats lag; printed per step: p50/p99
heartbeat round trip, heartbeats/s, and whether any node was falsely marked UNHEALTHY.

    .venv/bin/python bench/heartbeats.py [--steps 1000,2500,5000,7500,10000] [--duration 30]

A step "holds" when p99 < 100 ms and no node went UNHEALTHY. Target: 10,000 nodes on this
2-core machine (Kubernetes supports 5,000 nodes per cluster). The simulator shares the machine's
two cores with the master and PostgreSQL, so its own event-loop lag is printed too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import PYTHON, free_port, fresh_postgres, percentile, write_json  # noqa: E402
from tests import logguard  # noqa: E402

INTERVAL = 3.0
HEARTBEAT = json.dumps({"type": "heartbeat", "cpu_usage": 12.5, "mem_usage": 40.0})


def setup_django(database_url: str) -> None:
    os.environ.update(DATABASE_URL=database_url, DJANGO_SECRET_KEY="bench-secret-key",
                      SCHEDULER_JOIN_TOKEN="bench-join-token-0123456789",
                      DJANGO_SETTINGS_MODULE="scheduler_site.settings")
    import django

    django.setup()


def create_nodes(first: int, count: int) -> list[tuple[int, str]]:
    """Nodes straight into the database (setup, not measured): (id, token) each."""
    from django.utils import timezone

    from nodes.models import Node
    from scheduler_site import tokens

    now = timezone.now()
    secrets = [tokens.new_secret() for _ in range(count)]
    nodes = Node.objects.bulk_create([
        Node(name=f"sim-{first + i:05d}", cpu_capacity=8000, mem_capacity=16384, token_digest=tokens.hash_secret(s),
             last_heartbeat=now, registered_at=now, labels={"sim": "1"})
        for i, s in enumerate(secrets)
    ], batch_size=1000)
    return [(node.pk, tokens.make_token(tokens.NODE_PREFIX, node.pk, secret))
            for node, secret in zip(nodes, secrets, strict=True)]


class Stats:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.recording = False
        self.errors = 0
        self.error_kinds: dict[str, int] = {}
        self.lag: list[float] = []


async def open_socket(url: str, token: str, gate: asyncio.Semaphore):
    """Connect like the real agent: at most `gate` handshakes at once, retrying with backoff."""
    from websockets.asyncio.client import connect

    delay = 0.2
    for _ in range(30):
        async with gate:
            try:
                return await connect(url, additional_headers={"Authorization": f"Token {token}"}, open_timeout=30,
                                     ping_interval=None, max_queue=64)
            except Exception:  # refused, reset, handshake dropped: like the agent, back off and retry
                pass
        await asyncio.sleep(delay)
        delay = min(delay * 2, 5.0)
    raise ConnectionError("could not connect after 30 tries")


async def sim_agent(url: str, token: str, offset: float, stats: Stats, stop: asyncio.Event,
                    gate: asyncio.Semaphore, connected: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    try:
        async with await open_socket(url, token, gate) as ws:
            await ws.send(HEARTBEAT)  # as the agent does right after connecting
            while json.loads(await ws.recv()).get("type") != "heartbeat_ack":
                pass
            connected.set()
            next_beat = loop.time() + offset
            while not stop.is_set():
                await asyncio.sleep(max(0.0, next_beat - loop.time()))
                sent = loop.time()
                await ws.send(HEARTBEAT)
                while True:
                    frame = json.loads(await ws.recv())
                    if frame.get("type") == "heartbeat_ack":
                        break
                if stats.recording:
                    stats.latencies.append(loop.time() - sent)
                next_beat += INTERVAL
    except Exception as error:
        stats.errors += 1
        stats.error_kinds[f"{type(error).__name__}: {str(error)[:80]}"] = stats.error_kinds.get(
            f"{type(error).__name__}: {str(error)[:80]}", 0) + 1


async def loop_lag(stats: Stats, stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        before = loop.time()
        await asyncio.sleep(0.1)
        if stats.recording:
            stats.lag.append(loop.time() - before - 0.1)


def unhealthy_events_since(moment) -> int:
    from nodes.models import NodeEvent

    return NodeEvent.objects.filter(created_at__gte=moment, to_status="UNHEALTHY").count()


async def run(args) -> list[tuple]:
    from asgiref.sync import sync_to_async
    from django.utils import timezone

    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "SCHEDULER_LOG_LEVEL": "WARNING"}
    master_log = open(Path(args.log_dir) / "master.log", "wb")  # noqa: SIM115
    sweeper_log = open(Path(args.log_dir) / "sweeper.log", "wb")  # noqa: SIM115
    master = subprocess.Popen([PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                               "scheduler_site.asgi:application"], cwd=ROOT, env=env, stdout=master_log,
                              stderr=subprocess.STDOUT)
    sweeper = subprocess.Popen([PYTHON, str(ROOT / "manage.py"), "sweepnodes"], cwd=ROOT, env=env,
                               stdout=sweeper_log, stderr=subprocess.STDOUT)
    url = f"ws://127.0.0.1:{port}/ws/agent/"
    await asyncio.sleep(3)
    stats, stop, gate = Stats(), asyncio.Event(), asyncio.Semaphore(50)
    agents: list[asyncio.Task] = []
    lag_task = asyncio.create_task(loop_lag(stats, stop))
    rows = []
    try:
        for target in args.steps:
            while len(agents) < target:  # join in batches, each connected before the next registers
                batch = min(250, target - len(agents))
                nodes = await sync_to_async(create_nodes)(len(agents), batch)
                joined = []
                for node_id, token in nodes:
                    offset = (node_id % 997) / 997 * INTERVAL  # spread the beats over the interval
                    connected = asyncio.Event()
                    joined.append(connected)
                    agents.append(asyncio.create_task(sim_agent(url, token, offset, stats, stop, gate, connected)))
                await asyncio.gather(*(event.wait() for event in joined))
            await asyncio.sleep(2 * INTERVAL)  # every new agent connected and beating
            started = timezone.now()
            stats.latencies, stats.lag, stats.recording = [], [], True
            await asyncio.sleep(args.duration)
            stats.recording = False
            unhealthy = await sync_to_async(unhealthy_events_since)(started)
            latencies = stats.latencies
            p99 = percentile(latencies, 99) * 1000
            held = p99 < 100 and unhealthy == 0 and stats.errors == 0
            rows.append((target, len(latencies) / args.duration, percentile(latencies, 50) * 1000, p99,
                         max(latencies) * 1000 if latencies else float("nan"), unhealthy, stats.errors,
                         percentile(stats.lag, 99) * 1000, held))
            print(f"  {target} nodes: p99 {p99:.1f} ms, {unhealthy} false UNHEALTHY, "
                  f"{stats.errors} errors -> {'holds' if held else 'LAGS'}", flush=True)
            for kind, count in stats.error_kinds.items():
                print(f"    {count} x {kind}")
            if not held:
                break
    finally:
        stop.set()
        for task in agents:
            task.cancel()
        lag_task.cancel()
        await asyncio.gather(*agents, lag_task, return_exceptions=True)
        for process in (sweeper, master):
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="1000,2500,5000,7500,10000")
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/mini_scheduler_heartbeats")
    parser.add_argument("--log-dir", default=None, help="where the master's and sweeper's logs go "
                        "(default: a new temporary directory)")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON (for bench/run_all.py)")
    args = parser.parse_args()
    args.steps = [int(step) for step in args.steps.split(",")]
    args.log_dir = args.log_dir or tempfile.mkdtemp(prefix="mini-scheduler-heartbeats-")
    Path(args.log_dir).mkdir(parents=True, exist_ok=True)
    url = fresh_postgres(args.database_url)
    subprocess.run([PYTHON, str(ROOT / "manage.py"), "migrate", "-v", "0"], cwd=ROOT, check=True,
                   env={**os.environ, "DATABASE_URL": url, "DJANGO_SECRET_KEY": "bench-secret-key",
                        "SCHEDULER_JOIN_TOKEN": "bench-join-token-0123456789"})
    setup_django(url)
    rows = asyncio.run(run(args))
    held = [row[0] for row in rows if row[-1]]
    print(f"\nheartbeats every {INTERVAL:g} s over the agent WebSocket, one master on PostgreSQL, "
          f"{args.duration:g} s per step (holds: p99 < 100 ms, no false UNHEALTHY)")
    print(f"{'nodes':>7} {'beats/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'unhealthy':>9} "
          f"{'errors':>6} {'sim lag p99':>11} {'holds':>5}")
    for nodes, rate, p50, p99, worst, unhealthy, errors, lag, ok in rows:
        print(f"{nodes:7d} {rate:8.0f} {p50:7.1f} {p99:7.1f} {worst:7.1f} {unhealthy:9d} {errors:6d} "
              f"{lag:11.1f} {'yes' if ok else 'no':>5}")
    print(f"largest node count held: {max(held) if held else 0} (target 10,000)")
    if args.json:
        write_json(args.json, {"held": max(held) if held else 0, "steps": [
            {"nodes": nodes, "p50_ms": p50, "p99_ms": p99, "unhealthy": unhealthy, "holds": ok}
            for nodes, _, p50, p99, _, unhealthy, _, _, ok in rows]})
    logguard.check(logguard.read_dir(args.log_dir), where=args.log_dir)  # an error fails the benchmark


if __name__ == "__main__":
    main()
