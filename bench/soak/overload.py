"""The overload probe: what one cluster (two masters behind nginx, a sweeper, no agents, so every
task stays PENDING) does with 100,000 pending tasks and 1,000 log subscribers at once.

It records today's behaviour, it does not judge it: submit latency (p50/p99) and answers (201,
429/503 with or without Retry-After, 5xx, no answer) for a flood of submits through the API, then
with the queue at 100,000 (filled over SQL by copying a task the API created, so the rows are
what the API writes), then again with 1,000 WebSocket log subscribers open; /healthz answer times;
every master's RSS over time.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import psycopg
import websockets

from bench.soak.api import Api
from bench.soak.cluster import SoakCluster
from bench.soak.netns import AgentNetwork
from bench.soak.services import Nginx, PrivatePostgres, PrivateRedis

TRY_AGAIN_LATER = 4503  # the master's "busy" close code (scheduler_site/ws_gate.py)


def _pct(values: list[float], pct: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(pct / 100 * len(ordered)))] * 1000, 1)


class RssWatch:
    """Every master's resident memory, once a second."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.samples: list[tuple[float, dict[str, int]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            row = {}
            for name, pid in self.pids.items():
                try:
                    row[name] = psutil.Process(pid).memory_info().rss // (1024 * 1024)
                except psutil.Error:
                    row[name] = -1
            self.samples.append((time.time(), row))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def peak(self) -> dict[str, int]:
        return {name: max(row.get(name, 0) for _, row in self.samples) for name in self.pids} if self.samples else {}


def submits(api: Api, count: int, *, threads: int, tag: str) -> dict:
    """`count` submits with `threads` clients: latency percentiles and answers."""
    latencies, answers, retry_after = [], Counter(), 0

    def one(i: int) -> None:
        nonlocal retry_after
        start = time.monotonic()
        response = api.request("POST", "/api/v1/tasks", route=f"submit-{tag}", timeout=30,
                               json={"command": "true", "cpu": 0.1, "mem": 16, "name": f"overload-{tag}-{i}"})
        latencies.append(time.monotonic() - start)
        answers[response.status_code if response is not None else "no answer"] += 1
        if response is not None and "Retry-After" in response.headers:
            retry_after += 1

    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(one, range(count)))
    seconds = time.monotonic() - began
    return {"count": count, "threads": threads, "seconds": round(seconds, 1), "per_s": round(count / seconds, 1),
            "p50_ms": _pct(latencies, 50), "p99_ms": _pct(latencies, 99), "max_ms": _pct(latencies, 100),
            "answers": {str(k): v for k, v in answers.items()}, "with_retry_after": retry_after}


def healthz(api: Api, seconds: float) -> dict:
    times, answers = [], Counter()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        start = time.monotonic()
        response = api.request("GET", "/healthz", route="healthz", timeout=10)
        times.append(time.monotonic() - start)
        answers[response.status_code if response is not None else "no answer"] += 1
        time.sleep(0.5)
    return {"p50_ms": _pct(times, 50), "p99_ms": _pct(times, 99), "max_ms": _pct(times, 100),
            "answers": {str(k): v for k, v in answers.items()}}


def fill_pending(dsn: str, template_id: int, total: int) -> float:
    """Copy the API-made task `template_id` until `total` tasks are PENDING; seconds it took."""
    began = time.monotonic()
    with psycopg.connect(dsn, autocommit=True) as conn:
        columns = [row[0] for row in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'tasks_task' "
            "AND column_name NOT IN ('id', 'name') ORDER BY ordinal_position").fetchall()]
        have = conn.execute("SELECT COUNT(*) FROM tasks_task WHERE status = 'PENDING'").fetchone()[0]
        cols = ", ".join(f'"{c}"' for c in columns)
        conn.execute(f"INSERT INTO tasks_task (name, {cols}) SELECT 'overload-fill-' || g, {cols} "
                     f"FROM tasks_task, generate_series(1, %s) AS g WHERE id = %s",
                     (max(0, total - have), template_id))
    return time.monotonic() - began


class Subscribers:
    """`count` WebSocket log subscribers through nginx, held open in one asyncio loop."""

    def __init__(self, url: str, token: str, task_ids: list[int], count: int, *, ramp: int = 0) -> None:
        self.url = url.replace("http", "ws", 1)
        self.token = token
        self.task_ids = task_ids
        self.count = count
        self.ramp = ramp  # at most this many handshakes at once (0: all at once)
        self.open = 0
        self.failed = Counter()
        self.frames = 0
        self.dropped = 0  # opened, then closed by the other side before the probe ended
        self.refused = 0  # closed at once with 4503 "busy, try again later" (each retried, as the dashboard does)
        self.opened_in = 0.0
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._main(),), daemon=True)

    async def _one(self, index: int, gate: asyncio.Semaphore | None) -> None:
        """One subscriber, as the dashboard's socket behaves: a close with 4503 (busy, try again later)
        is a clean refusal, retried after a backoff with jitter (0.5 s doubling to 10 s)."""
        task = self.task_ids[index % len(self.task_ids)]
        refusals = 0
        while True:
            outcome = await self._connect_once(task, gate)
            if outcome != "refused" or self._stop.is_set():
                return
            refusals += 1
            ceiling = min(10.0, 0.5 * 2 ** (refusals - 1))
            await asyncio.sleep(random.uniform(ceiling / 2, ceiling))

    async def _connect_once(self, task: int, gate: asyncio.Semaphore | None) -> str:
        opened = False
        try:
            if gate:
                await gate.acquire()
            async with websockets.connect(f"{self.url}/ws/tasks/{task}/logs/", open_timeout=60,
                                          additional_headers={"Authorization": f"Token {self.token}"},
                                          max_size=None) as ws:
                self.open += 1
                opened = True
                if gate:
                    gate.release()
                    gate = None
                while not self._stop.is_set():
                    try:
                        await asyncio.wait_for(ws.recv(), timeout=1)
                        self.frames += 1
                    except TimeoutError:
                        continue
            return "closed"
        except Exception as error:  # each failure is a figure of the probe
            if gate:
                gate.release()
            code = getattr(getattr(error, "rcvd", None), "code", None)
            if opened and code == TRY_AGAIN_LATER:
                self.open -= 1
                self.refused += 1
                return "refused"
            if opened:
                self.dropped += 1
                return "dropped"
            self.failed[type(error).__name__ + (f" {error.response.status_code}" if hasattr(error, "response")
                                                and error.response is not None else "")] += 1
            return "failed"

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        began = time.monotonic()
        gate = asyncio.Semaphore(self.ramp) if self.ramp else None
        tasks = [asyncio.create_task(self._one(i, gate)) for i in range(self.count)]
        while self.open + sum(self.failed.values()) < self.count and time.monotonic() - began < 300:
            await asyncio.sleep(0.2)
        self.opened_in = time.monotonic() - began
        self._ready.set()
        while not self._stop.is_set():
            await asyncio.sleep(0.2)
        await asyncio.gather(*tasks, return_exceptions=True)

    def __enter__(self):
        self._thread.start()
        self._ready.wait(timeout=360)
        return self

    def __exit__(self, *exc):
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=60)


def probe(*, workdir: Path, pending: int, subscribers: int, flood: int = 2000, ramp: int = 0, log=print) -> dict:
    workdir.mkdir(parents=True, exist_ok=True)
    network = AgentNetwork([], enabled=False)
    postgres, redis = PrivatePostgres(workdir), PrivateRedis(workdir)
    cluster = nginx = None
    figures: dict = {"date": time.strftime("%Y-%m-%d %H:%M"), "pending": pending, "subscribers": subscribers,
                     "subscriber_ramp": ramp or "all at once"}
    try:
        postgres.start()
        redis.start()
        cluster = SoakCluster(workdir, database_url=postgres.url, redis_url=redis.url, network=network, agents=[],
                              sweepers=1)
        cluster.prepare()
        with ThreadPoolExecutor() as pool:
            list(pool.map(cluster.start, cluster.master_ports))
        nginx = Nginx(workdir, masters=list(cluster.master_ports.values()), addresses=["127.0.0.1"])
        nginx.start()
        cluster.start("sweeper-1")
        api = Api(nginx.url, timeout=30)
        api.login("chaos", cluster.password)
        log("overload: cluster up (2 masters behind nginx, 1 sweeper, no agents)")
        with RssWatch(cluster.pids("master")) as rss:
            figures["idle_healthz"] = healthz(api, 5)
            if flood:
                figures[f"flood_{flood}_submits_16_clients"] = submits(api, flood, threads=16, tag="flood")
                log(f"overload: flood {figures[f'flood_{flood}_submits_16_clients']}")
            template = api.request("POST", "/api/v1/tasks", route="submit", json={
                "command": "true", "cpu": 0.1, "mem": 16, "name": "overload-template"}).json()["id"]
            figures["fill_seconds"] = round(fill_pending(postgres.url, template, pending), 1)
            log(f"overload: {pending} pending (filled over SQL in {figures['fill_seconds']} s)")
            time.sleep(5)
            figures["pending_healthz"] = healthz(api, 10)
            figures["pending_submits_4_clients"] = submits(api, 300, threads=4, tag="pending")
            log(f"overload: with the queue full {figures['pending_submits_4_clients']}")
            with Subscribers(nginx.url, api.token, list(range(max(1, template - 50), template + 1)), subscribers,
                             ramp=ramp) as subs:
                figures["subscribers_open"] = subs.open
                figures["subscribers_failed"] = dict(subs.failed)
                figures["subscribers_opened_in_s"] = round(subs.opened_in, 1)
                figures["subscribers_refused_4503_retried"] = subs.refused
                log(f"overload: {subs.open} subscribers open in {subs.opened_in:.1f} s, failed {dict(subs.failed)}, "
                    f"refused with 4503 and retried {subs.refused}")
                figures["subscribed_healthz"] = healthz(api, 10)
                figures["subscribed_submits_4_clients"] = submits(api, 300, threads=4, tag="subscribed")
                log(f"overload: with subscribers {figures['subscribed_submits_4_clients']}")
                figures["subscribers_dropped"] = subs.dropped
        figures["master_rss_mib_peak"] = rss.peak()
        figures["master_rss_mib_timeline"] = [
            (round(t - rss.samples[0][0]), row) for t, row in rss.samples[:: max(1, len(rss.samples) // 20)]]
        figures["master_rss_mib_median"] = {name: statistics.median(row[name] for _, row in rss.samples)
                                            for name in cluster.pids("master")} if rss.samples else {}
        return figures
    finally:
        if cluster:
            cluster.stop()
        if nginx:
            nginx.stop()
        redis.stop()
        postgres.stop()
