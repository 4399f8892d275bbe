"""One soak run from set-up to verdict: bring up the private services and the cluster, run the
workload with the seeded faults for the given minutes, heal everything, wait for every task to end,
check, tear down. `Soak.run()` returns the checker's result; the run directory keeps every log."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

import psycopg
import requests

from bench.soak.api import Api
from bench.soak.checker import TERMINAL, Checker, Result, Timers
from bench.soak.cluster import AgentSpec, SoakCluster
from bench.soak.faults import KINDS, Injector, Targets, schedule
from bench.soak.netns import AgentNetwork
from bench.soak.sampler import Sampler
from bench.soak.services import Nginx, PrivatePostgres, PrivateRedis
from bench.soak.workload import Workload

AGENTS = [AgentSpec(f"a{i}") for i in range(1, 6)]


class Soak:
    def __init__(self, *, seed: int, minutes: float, intensity: float, workdir: Path, settle_timeout: float = 300,
                 kinds: tuple[str, ...] = KINDS, extra_env: dict[str, str] | None = None,
                 daphne_args: tuple[str, ...] = (), log=print) -> None:
        self.seed = seed
        self.minutes = minutes
        self.intensity = intensity
        self.workdir = workdir
        self.settle_timeout = settle_timeout
        self.kinds = kinds
        self.extra_env = dict(extra_env or {})
        self.daphne_args = tuple(daphne_args)
        self.started = time.monotonic()
        self._log = log
        self.network = AgentNetwork([a.name for a in AGENTS])
        self.postgres = PrivatePostgres(workdir)
        self.redis = PrivateRedis(workdir)
        self.cluster: SoakCluster | None = None
        self.nginx: Nginx | None = None
        self.api: Api | None = None
        self.sampler: Sampler | None = None
        self.workload: Workload | None = None
        self.faults = []
        self.injector: Injector | None = None
        self.setup_notes: dict[str, str] = {}
        self.masters_after: dict[str, str] = {}

    def log(self, text: str) -> None:
        self._log(f"[{time.strftime('%H:%M:%S')} t+{time.monotonic() - self.started:6.1f}s] {text}")

    # -- set-up ------------------------------------------------------------------------------

    def setup(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.network.setup()
        self.setup_notes["network"] = (f"agents in namespaces, nginx at {self.network.hub_address}"
                                       if self.network.enabled else f"no namespaces ({self.network.reason_disabled})")
        self.log(f"network: {self.setup_notes['network']}")
        self.postgres.start()
        self.redis.start()
        self.log(f"private PostgreSQL on :{self.postgres.port}, Redis on :{self.redis.port}")
        cluster = self.cluster = SoakCluster(self.workdir, database_url=self.postgres.url, redis_url=self.redis.url,
                                             network=self.network, agents=AGENTS, daphne_args=self.daphne_args)
        if self.daphne_args:
            self.setup_notes["daphne arguments"] = " ".join(self.daphne_args)
        cluster.env.update(self.extra_env)
        cluster.timers.update({k: v for k, v in self.extra_env.items() if k in cluster.timers})
        if self.extra_env:
            self.setup_notes["extra settings"] = " ".join(f"{k}={v}" for k, v in self.extra_env.items())
        cluster.prepare()
        with ThreadPoolExecutor() as pool:  # daphne takes seconds to start on a busy machine
            list(pool.map(cluster.start, cluster.master_ports))
        addresses = ["127.0.0.1"] + ([self.network.hub_address] if self.network.enabled else [])
        self.nginx = Nginx(self.workdir, masters=list(cluster.master_ports.values()), addresses=addresses)
        self.nginx.start()
        cluster.proxy_url = f"http://{self.network.hub_address}:{self.nginx.port}"
        self.log(f"masters on {sorted(cluster.master_ports.values())} behind nginx :{self.nginx.port}")
        for name in cluster.sweeper_names:
            cluster.start(name)
        for spec in AGENTS:
            cluster.start(f"agent-{spec.name}")
        self.api = Api(self.nginx.url)
        self.api.login("chaos", cluster.password)
        self._wait_nodes_online(timeout=120)
        self.log("5 agents ONLINE")

    def _nodes(self) -> list[dict]:
        response = self.api.request("GET", "/api/v1/nodes?page_size=1000", route="nodes", record=False)
        if response is None or response.status_code != 200:
            return []
        return response.json()["results"]

    def _wait_nodes_online(self, *, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        names = {spec.name for spec in AGENTS}
        while time.monotonic() < deadline:
            if names <= {n["name"] for n in self._nodes() if n["status"] == "ONLINE"}:
                return True
            time.sleep(0.5)
        return False

    def _targets(self) -> Targets:
        cluster = self.cluster
        return Targets(
            masters=list(cluster.master_ports), sweepers=list(cluster.sweeper_names),
            agents=[f"agent-{spec.name}" for spec in AGENTS],
            kill=cluster.kill, start=cluster.start, freeze=cluster.freeze, thaw=cluster.thaw,
            partition=(lambda name: self.network.partition(name.removeprefix("agent-"))) if self.network.enabled
            else None,
            heal=(lambda name: self.network.heal(name.removeprefix("agent-"))) if self.network.enabled else None,
            restart_redis=lambda down: self.redis.restart(down=down),
            restart_postgres=lambda mode, down: self.postgres.restart(mode=mode, down=down),
            burst=self._burst,
        )

    def _burst(self) -> str:
        accepted, seconds = self.workload.burst(2000)
        text = f"{accepted}/2000 accepted in {seconds:.1f}s"
        self.log(f"burst: {text}")
        return text

    # -- the run -----------------------------------------------------------------------------

    def soak(self) -> None:
        effects = self.workdir / "effects.log"
        self.workload = Workload(self.api, workdir=self.workdir, seed=self.seed, intensity=self.intensity,
                                 effects=effects)
        features = self.workload.probe_features()
        self.setup_notes["features"] = ", ".join(f"{name} {state}" for name, state in features.items())
        self.log(f"batch features: {self.setup_notes['features']}")
        self.faults = schedule(self.seed, minutes=self.minutes, intensity=self.intensity,
                               offline_after=self.cluster.offline_after, kinds=self.kinds)
        self.log(f"{len(self.faults)} faults scheduled over {self.minutes:g} min")
        self.sampler = Sampler(self.postgres.url)
        self.sampler.start()
        self.workload.start()
        self.injector = Injector(self.faults, self._targets(), log=self.log)
        began = time.monotonic()
        self.injector.start(began)
        time.sleep(max(0.0, began + self.minutes * 60 - time.monotonic()))
        self.injector.join()
        self.workload.stop()
        self.log(f"faults over; {len(self.workload.submitted)} submits, {len(self.workload.cancels)} cancels")

    def settle(self) -> bool:
        """Everything healed and running again, then every accepted task terminal."""
        for name in self.cluster.all_names():
            if not self.cluster.alive(name):
                self.log(f"restarting {name}, found dead after the faults")
                self.cluster.start(name)
        if not self._wait_nodes_online(timeout=60):
            self.log("not every node came back ONLINE within 60 s")
        ids = [s.task_id for s in self.workload.submitted if s.task_id is not None]
        deadline = time.monotonic() + self.settle_timeout
        left, progress = -1, (None, time.monotonic())
        while time.monotonic() < deadline:
            if progress[0] != left:
                progress = (left, time.monotonic())
            elif time.monotonic() - progress[1] > 90:
                self.log(f"no task ended for 90 s ({left} left): not waiting longer")
                break
            try:
                with psycopg.connect(self.postgres.url, autocommit=True) as conn:
                    left = conn.execute("SELECT COUNT(*) FROM tasks_task WHERE id = ANY(%s) AND NOT status = ANY(%s)",
                                        (ids, list(TERMINAL))).fetchone()[0]
            except psycopg.Error:
                left = -1
            if left == 0:
                break
            time.sleep(1)
        time.sleep(3)  # the last log chunks trail a task's end by a fraction of a second
        self.sampler.stop()
        self.masters_after = {}
        for name, port in self.cluster.master_ports.items():
            try:
                answer = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
                self.masters_after[name] = str(answer.status_code)
            except requests.RequestException as error:
                self.masters_after[name] = type(error).__name__
        self.log(f"masters' /healthz after settling: {self.masters_after}")
        self.log(f"settled: {'all tasks terminal' if left == 0 else f'{left} task(s) not terminal'}")
        return left == 0

    def check(self) -> Result:
        cluster = self.cluster
        checker = Checker(dsn=self.postgres.url, api=self.api, submitted=self.workload.submitted,
                          cancels=self.workload.cancels, faults=self.faults, sampler=self.sampler,
                          effects=self.workdir / "effects.log", seed=self.seed,
                          timers=Timers(cluster.heartbeat, cluster.kill_grace, cluster.offline_after))
        result = checker.check()
        stats = result.stats
        stats["seed"] = self.seed
        stats["minutes"] = self.minutes
        stats["intensity"] = self.intensity
        stats["setup"] = self.setup_notes
        stats["faults_by_kind"] = {}
        for fault in self.faults:
            key = fault.kind + (" (skipped)" if fault.skipped else "")
            stats["faults_by_kind"][key] = stats["faults_by_kind"].get(key, 0) + 1
        stats["fault_errors"] = self.injector.errors
        stats["masters_healthz_after_settling"] = self.masters_after
        stats["submits"] = len(self.workload.submitted)
        stats["accepted_submits"] = sum(1 for s in self.workload.submitted if s.status == 201)
        return result

    def run(self) -> Result:
        try:
            self.setup()
            self.soak()
            self.settle()
            result = self.check()
            self.save(result)
            self.dump_tables()
            return result
        finally:
            self.teardown()

    def dump_tables(self) -> None:
        """The scheduler's own record of the run, for the post-mortem of a violation."""
        queries = {
            "tasks.csv": "SELECT id, name, status, attempt, max_attempts, exit_code, node_name, status_reason, "
                         "status_message, created_at, started_at, finished_at FROM tasks_task ORDER BY id",
            "task_events.csv": "SELECT id, task_id, attempt, from_status, to_status, node_name, reason, message, "
                               "EXTRACT(EPOCH FROM created_at) AS time FROM tasks_taskevent ORDER BY id",
            "node_events.csv": "SELECT e.id, n.name, e.from_status, e.to_status, e.reason, e.message, "
                               "EXTRACT(EPOCH FROM e.created_at) AS time FROM nodes_nodeevent e "
                               "JOIN nodes_node n ON n.id = e.node_id ORDER BY e.id",
        }
        try:
            with psycopg.connect(self.postgres.url, autocommit=True) as conn:
                for name, query in queries.items():
                    with open(self.workdir / name, "wb") as out, \
                            conn.cursor().copy(f"COPY ({query}) TO STDOUT WITH CSV HEADER") as copy:
                        for data in copy:
                            out.write(data)
        except (psycopg.Error, OSError) as error:
            self.log(f"could not dump the tables: {error}")

    def save(self, result: Result) -> None:
        (self.workdir / "result.json").write_text(json.dumps(
            {"stats": result.stats, "violations": [asdict(v) for v in result.violations],
             "faults": [asdict(f) for f in self.faults]}, indent=2, default=str))
        with open(self.workdir / "requests.jsonl", "w") as out:
            for outcome in self.api.outcomes:
                out.write(json.dumps(asdict(outcome)) + "\n")

    def teardown(self) -> None:
        """Every step runs even when one before it fails or is interrupted (a second Ctrl-C included)."""
        steps = [self.injector and self.injector.stop, self.workload and self.workload.stop,
                 self.sampler and self.sampler.stop, self.cluster and self.cluster.stop,
                 self.nginx and self.nginx.stop, self.redis.stop, self.postgres.stop, self.network.teardown]
        for step in steps:
            if step:
                try:
                    step()
                except BaseException as error:  # cleanup goes on whatever happened
                    self.log(f"teardown: {getattr(step, '__qualname__', step)} failed: {error!r}")
