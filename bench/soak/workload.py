"""The soak's workload: task kinds whose output and exit the checker can predict, generators that
submit them (each one pluggable: the batch features switch themselves on when the API accepts their
fields), random cancels, and the 2,000-submit burst.

Every task runs `bash WRAP KIND ARGS` (see wrap.sh): its output is a function of (task id, attempt,
kind, args), and each attempt leaves start/alive/end records in the side-effect file.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from bench.soak.api import Api

WRAP_TEMPLATE = Path(__file__).with_name("wrap.sh")
# Attempts lost to infrastructure: high, so that a task losing its node several times in a row is
# still expected to finish (the checker reports a FAILED "good" task with the reason it got).
MAX_ATTEMPTS = 20


def expected_output(kind: str, task: int, attempt: int, args: list[str]) -> str:
    """Exactly what attempt `attempt` of a task of `kind` prints when it runs to the end."""
    if kind == "true":
        return f"ok {task} {attempt}\n"
    if kind == "fail":
        return f"fail {task} {attempt}\n"
    if kind == "flaky":
        return f"flaky {task} {attempt} {'no' if attempt < int(args[0]) else 'yes'}\n"
    if kind == "sleep":
        return "".join(f"tick {task} {attempt} {i}\n" for i in range(1, int(args[0]) + 1))
    if kind == "chatty":
        return "".join(f"line {task} {attempt} {i}\n" for i in range(1, int(args[0]) + 1))
    raise ValueError(kind)


def expected_exit(kind: str, attempt: int, args: list[str]) -> int:
    if kind == "fail":
        return int(args[0])
    if kind == "flaky":
        return 3 if attempt < int(args[0]) else 0
    return 0


@dataclass
class Submitted:
    """One submit as the harness made it, and what came back."""

    name: str
    kind: str
    args: list[str]
    fields: dict
    start: float
    end: float = 0.0
    status: int | None = None  # HTTP status; None: no answer
    task_id: int | None = None
    generator: str = "basic"
    group: str = ""  # array or chain this task belongs to


@dataclass
class Cancel:
    task_id: int
    start: float
    end: float
    status: int | None


@dataclass
class Plan:
    """A task to submit: kind, its arguments and the extra API fields."""

    kind: str
    args: list[str]
    cpu: float
    fields: dict = field(default_factory=dict)


def basic_plan(rng: random.Random, *, chatty_ok: bool) -> Plan:
    roll = rng.random()
    if roll < 0.45:
        return Plan("true", [], 0.1)
    if roll < 0.70:
        return Plan("sleep", [str(rng.randint(4, 40))], 0.25)
    if roll < 0.88 or not chatty_ok:
        return Plan("fail", [str(rng.randint(1, 5))], 0.1)
    return Plan("chatty", [str(rng.randint(10, 30) * 1000)], 0.5)


class Feature:
    """A generator for a batch feature that may not exist yet: `probe` says whether the API knows
    its fields (a 400 naming an unknown field means no); `submit` makes one round of it."""

    name = ""
    probe_fields: dict = {}

    def __init__(self) -> None:
        self.available = False
        self.probe_answer = ""

    def probe(self, api: Api) -> bool:
        body = {"command": "true", "name": f"chaos-probe-{self.name}", "cpu": 0.001, "mem": 1,
                "node_selector": {"chaos-probe": "nowhere"}, **self.probe_fields}
        response = api.request("POST", "/api/v1/tasks", route="probe", json=body, record=False)
        if response is None:
            self.probe_answer = "no answer"
            return False
        self.probe_answer = f"{response.status_code} {response.text[:160]}"
        if response.status_code == 201:
            for task in _created_tasks(response.json()):
                api.request("POST", f"/api/v1/tasks/{task['id']}/cancel", route="probe", record=False)
            self.available = True
        return self.available

    def submit(self, workload: Workload, rng: random.Random) -> None:
        raise NotImplementedError


def _created_tasks(answer: dict) -> list[dict]:
    """A 201's tasks: one task, or an array's `tasks`."""
    return answer.get("tasks", [answer]) if isinstance(answer, dict) else []


class Retries(Feature):
    """A command that fails (exit 3) until attempt K, with `retries` to get there (issue 16)."""

    name = "retries"
    probe_fields = {"retries": 1, "retry_backoff": 1}

    def submit(self, workload: Workload, rng: random.Random) -> None:
        k = rng.randint(2, 3)
        workload.submit(Plan("flaky", [str(k)], 0.1, {"retries": k - 1, "retry_backoff": 1}), generator=self.name)


class Arrays(Feature):
    """An array of short sleepers with a throttle (`array: "0-N%M"`, issue 16)."""

    name = "arrays"
    probe_fields = {"array": "0-1%1"}

    def submit(self, workload: Workload, rng: random.Random) -> None:
        size, throttle = rng.randint(5, 20), rng.randint(1, 4)
        workload.submit(Plan("sleep", ["4"], 0.1, {"array": f"0-{size - 1}%{throttle}"}), generator=self.name)


class Chains(Feature):
    """A dependency chain A <- B <- C (`depends_on`, `dependency: afterok`, issue 16)."""

    name = "chains"
    probe_fields = {"depends_on": []}

    def submit(self, workload: Workload, rng: random.Random) -> None:
        previous = None
        group = f"chain-{rng.getrandbits(32):08x}"
        for _ in range(3):
            plan = basic_plan(rng, chatty_ok=False)
            if previous is not None:
                plan.fields = {"depends_on": [previous], "dependency": "afterok"}
            done = workload.submit(plan, generator=self.name, group=group)
            if done.task_id is None:
                return
            previous = done.task_id


FEATURES: list[Callable[[], Feature]] = [Retries, Arrays, Chains]


class Workload:
    """Submits and cancels at random (seeded) until told to stop; everything it did is kept."""

    def __init__(self, api: Api, *, workdir: Path, seed: int, intensity: float, effects: Path) -> None:
        self.api = api
        self.seed = seed
        self.rate = 2.0 * intensity  # arrivals per second
        self.rng = random.Random(f"{seed}-workload")
        self.wrapper = workdir / "wrap.sh"
        self.wrapper.write_text(WRAP_TEMPLATE.read_text().replace("__EFFECTS__", str(effects)))
        # Tasks run as the agents' unprivileged task user: they must read the wrapper and append
        # to the side-effect file (the run directory is only traversable, the rest stays private).
        os.chmod(workdir, 0o711)
        os.chmod(self.wrapper, 0o755)
        effects.touch()
        os.chmod(effects, 0o666)
        self.submitted: list[Submitted] = []
        self.cancels: list[Cancel] = []
        self.features: list[Feature] = [make() for make in FEATURES]
        self._lock = threading.Lock()
        self._counter = 0
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="workload")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def probe_features(self) -> dict[str, str]:
        return {feature.name: ("on" if feature.probe(self.api) else f"off ({feature.probe_answer})")
                for feature in self.features}

    def _next_name(self) -> str:
        with self._lock:
            self._counter += 1
            return f"chaos-{self.seed}-{self._counter}"

    def submit(self, plan: Plan, *, generator: str = "basic", group: str = "") -> Submitted:
        body = {"command": f"bash {self.wrapper} {plan.kind} {' '.join(plan.args)}".strip(), "cpu": plan.cpu,
                "mem": 32, "max_attempts": MAX_ATTEMPTS, "name": self._next_name(), **plan.fields}
        record = Submitted(body["name"], plan.kind, plan.args, plan.fields, time.time(), generator=generator,
                           group=group)
        with self._lock:
            self.submitted.append(record)
        response = self.api.request("POST", "/api/v1/tasks", route="submit", json=body)
        record.end = time.time()
        if response is not None:
            record.status = response.status_code
            if response.status_code == 201:
                tasks = _created_tasks(response.json())
                record.task_id = tasks[0]["id"]
                for extra in tasks[1:]:  # an array's other elements
                    with self._lock:
                        self.submitted.append(Submitted(record.name, plan.kind, plan.args, plan.fields, record.start,
                                                        record.end, 201, extra["id"], generator, group or
                                                        f"array-{tasks[0]['id']}"))
                if len(tasks) > 1 and not record.group:
                    record.group = f"array-{tasks[0]['id']}"
        return record

    def cancel(self, task_id: int) -> None:
        start = time.time()
        response = self.api.request("POST", f"/api/v1/tasks/{task_id}/cancel", route="cancel")
        with self._lock:
            self.cancels.append(Cancel(task_id, start, time.time(), response.status_code if response else None))

    def burst(self, count: int = 2000, *, threads: int = 16) -> tuple[int, float]:
        """`count` short tasks as fast as `threads` clients can submit them: (accepted, seconds)."""
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="burst") as pool:
            done = list(pool.map(lambda _: self.submit(Plan("true", [], 0.05), generator="burst"), range(count)))
        return sum(1 for record in done if record.status == 201), time.monotonic() - started

    def _chatty_running(self) -> int:
        horizon = time.time() - 10
        return sum(1 for s in self.submitted[-200:] if s.kind == "chatty" and s.start > horizon)

    def _arrive(self) -> None:
        rng = self.rng
        roll = rng.random()
        if roll < 0.10:
            with self._lock:
                recent = [s.task_id for s in self.submitted[-60:] if s.task_id is not None]
            if recent:
                self._pool.submit(self.cancel, rng.choice(recent))
            return
        live = [feature for feature in self.features if feature.available]
        if live and roll < 0.25:
            feature = rng.choice(live)
            sub_rng = random.Random(rng.getrandbits(64))
            self._pool.submit(feature.submit, self, sub_rng)
            return
        plan = basic_plan(rng, chatty_ok=self._chatty_running() < 2)
        self._pool.submit(self.submit, plan)

    def _run(self) -> None:
        while not self._stop.wait(self.rng.expovariate(self.rate)):
            self._arrive()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="workload", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()
        self._pool.shutdown(wait=True)
