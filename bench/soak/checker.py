"""The soak's invariants, checked after the faults stop and the cluster settles, from three sources
the scheduler does not control: the side-effect file (what really ran), the harness's record of
every request and fault, and the database read over SQL (what the scheduler says happened).

Each rule names what it protects; a violation carries the task (or time) and enough detail to
replay it. Statistics (counts, the longest requeue wait) are gathered on the way.
"""

from __future__ import annotations

import itertools
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from bench.soak.api import Api
from bench.soak.faults import Fault
from bench.soak.sampler import CHECK, Sampler, books
from bench.soak.workload import Cancel, Submitted, expected_exit, expected_output

TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED")
NODE_LOSS = ("agent-kill", "agent-freeze", "agent-partition")
SLACK = 1.5  # seconds: scheduling noise on a loaded 2-core machine, on top of heartbeat + kill grace


@dataclass
class Run:
    """One attempt as the side-effect file saw it on one node."""

    task: int
    attempt: int
    node: str
    start: float
    last: float  # the last record: a lower bound of when it stopped
    starts: int = 1
    end_code: int | None = None  # set when it ran to the end (an E record)
    terminated: bool = False  # got SIGTERM


@dataclass
class Violation:
    rule: str
    text: str
    task: int | None = None
    time: float | None = None


@dataclass
class Timers:
    heartbeat: float
    kill_grace: float
    offline_after: float


@dataclass
class Result:
    violations: list[Violation] = field(default_factory=list)
    stats: dict = field(default_factory=dict)

    def add(self, rule: str, text: str, *, task: int | None = None, at: float | None = None) -> None:
        self.violations.append(Violation(rule, text, task, at))


def read_effects(path: Path) -> dict[tuple[int, int, str], Run]:
    runs: dict[tuple[int, int, str], Run] = {}
    if not path.exists():
        return runs
    for line in path.read_text(errors="replace").splitlines():
        parts = line.split()
        if len(parts) != 6:
            continue
        kind, task, attempt, node, when, code = parts
        key = (int(task), int(attempt), node)
        at = float(when)
        run = runs.get(key)
        if kind == "S":
            if run is None:
                runs[key] = Run(int(task), int(attempt), node, at, at)
            else:
                run.starts += 1
                run.start = min(run.start, at)
            continue
        if run is None:
            run = runs[key] = Run(int(task), int(attempt), node, at, at, starts=0)
        run.last = max(run.last, at)
        if kind == "E":
            run.end_code = int(code)
        elif kind == "T":
            run.terminated = True
    return runs


def _fault_holding(node: str, at: float, faults: list[Fault]) -> Fault | None:
    """The freeze or partition that kept `node` from hearing the masters at `at`, if any."""
    for fault in faults:
        if fault.kind in ("agent-freeze", "agent-partition") and fault.target == f"agent-{node}" \
                and fault.start and fault.start <= at <= (fault.end or at):
            return fault
    return None


def _must_be_whole(task: dict, run: Run) -> bool:
    """A cancel or a requeue fences an attempt: output that reaches the master after it is refused by
    design, so only the final attempt whose own end ended the task must have stored all it printed."""
    ended_it = task["status"] == "SUCCEEDED" or (task["status"] == "FAILED" and task["exit_code"] is not None)
    return run.attempt == task["attempt"] and run.end_code is not None and ended_it


def _first_difference(stored: str, expected: str) -> str:
    got, want = stored.splitlines(), expected.splitlines()
    for index, (a, b) in enumerate(zip(got, want, strict=False)):
        if a != b:
            return f"line {index + 1}: stored {a!r}, printed {b!r}"
    return f"stored {len(got)} lines, printed {len(want)}"


class Checker:
    def __init__(self, *, dsn: str, api: Api, submitted: list[Submitted], cancels: list[Cancel],
                 faults: list[Fault], sampler: Sampler, effects: Path, timers: Timers, seed: int) -> None:
        self.dsn = dsn
        self.api = api
        self.submitted = submitted
        self.cancels = cancels
        self.faults = [f for f in faults if f.start]
        self.sampler = sampler
        self.timers = timers
        self.runs = read_effects(effects)
        self.rng = random.Random(f"{seed}-checker")
        self.result = Result()
        self.tasks: dict[int, dict] = {}
        self.events: dict[int, list[dict]] = defaultdict(list)
        self.logs: dict[tuple[int, int], str] = {}
        self.stderr: dict[tuple[int, int], str] = {}

    # -- reading ------------------------------------------------------------------------------

    def load(self) -> None:
        ids = sorted({s.task_id for s in self.submitted if s.task_id is not None})
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT id, name, status, attempt, max_attempts, exit_code, status_reason, status_message, "
                "node_name FROM tasks_task WHERE id = ANY(%s)", (ids,)).fetchall()
            for row in rows:
                self.tasks[row[0]] = dict(zip(("id", "name", "status", "attempt", "max_attempts", "exit_code",
                                               "reason", "message", "node"), row, strict=True))
            for row in conn.execute(
                    "SELECT task_id, attempt, from_status, to_status, node_name, reason, "
                    "EXTRACT(EPOCH FROM created_at)::float8 FROM tasks_taskevent WHERE task_id = ANY(%s) "
                    "ORDER BY id", (ids,)).fetchall():
                self.events[row[0]].append(dict(zip(("task", "attempt", "from", "to", "node", "reason", "time"),
                                                    row, strict=True)))
            for task, attempt, stream, text in conn.execute(
                    "SELECT task_id, attempt, stream, string_agg(data, '' ORDER BY seq) FROM tasks_logchunk "
                    "WHERE task_id = ANY(%s) GROUP BY task_id, attempt, stream", (ids,)).fetchall():
                (self.logs if stream == 1 else self.stderr)[(task, attempt)] = text
            ambiguous = [s.name for s in self.submitted if s.status != 201 and s.generator != "probe"]
            found = conn.execute("SELECT name, COUNT(*) FROM tasks_task WHERE name = ANY(%s) GROUP BY name",
                                 (ambiguous,)).fetchall()
            self.result.stats["unanswered_submits_that_exist"] = sum(count for _, count in found)
            self.result.stats["unanswered_submits"] = len(ambiguous)
            self._final_books(conn)

    def _final_books(self, conn: psycopg.Connection) -> None:
        nodes, problems = books(conn)
        for problem in problems:
            self.result.add("books-after-settling", problem.text, at=problem.time)
        busy = [f"{row[1]} {row[4]}m/{row[5]}MiB" for row in nodes if row[4] or row[5]]
        if busy and all(t["status"] in TERMINAL for t in self.tasks.values()):
            self.result.add("reservations-left", "every task is terminal but nodes still hold " + ", ".join(busy))
        check = conn.execute(CHECK).fetchone()
        if check is None or not check[0]:
            self.result.add("capacity-check-missing", "no validated CHECK node_allocated_within_capacity")
        self.result.stats["capacity_check"] = check[1] if check else "missing"

    # -- rules --------------------------------------------------------------------------------

    def check(self) -> Result:
        self.load()
        self.submits_exist_and_end()
        self.attempts_and_outcomes()
        self.concurrent_attempts()
        self.cancels_take()
        self.capacity_and_books()
        self.stored_logs()
        self.api_answers()
        self.requeue_waits()
        self.node_losses()
        self.batch_features()
        self.result.stats["violations_by_rule"] = dict(Counter(v.rule for v in self.result.violations))
        return self.result

    def submits_exist_and_end(self) -> None:
        outcome = Counter()
        for s in self.submitted:
            if s.status != 201:
                continue
            task = self.tasks.get(s.task_id)
            if task is None:
                self.result.add("lost-submit", f"{s.name}: answered 201 as task {s.task_id}, not in the database",
                                task=s.task_id)
                continue
            outcome[(s.kind, task["status"])] += 1
            if task["status"] not in TERMINAL:
                self.result.add("not-terminal", f"task {s.task_id} ({s.kind}) still {task['status']} "
                                f"(attempt {task['attempt']} on {task['node'] or '-'}: {task['reason']} "
                                f"{task['message'][:120]})", task=s.task_id)
        self.result.stats["tasks_by_kind_and_status"] = {f"{k} {st}": n for (k, st), n in sorted(outcome.items())}

    def _runs_of(self, task: int) -> list[Run]:
        return sorted((r for r in self.runs.values() if r.task == task), key=lambda r: (r.attempt, r.start))

    def attempts_and_outcomes(self) -> None:
        for s in self.submitted:
            task = self.tasks.get(s.task_id) if s.status == 201 else None
            if task is None:
                continue
            runs = self._runs_of(task["id"])
            by_attempt = defaultdict(list)
            for run in runs:
                by_attempt[run.attempt].append(run)
            for attempt, same in by_attempt.items():
                if len(same) > 1:
                    self.result.add("attempt-on-two-nodes", f"task {task['id']} attempt {attempt} ran on "
                                    f"{', '.join(r.node for r in same)}", task=task["id"])
                for run in same:
                    if run.starts > 1:
                        self.result.add("attempt-started-twice", f"task {task['id']} attempt {attempt} started "
                                        f"{run.starts} times on {run.node}", task=task["id"])
            finished = [r for r in runs if r.end_code is not None]
            if len({r.attempt for r in finished}) > 1:
                self.result.add("ran-to-the-end-twice",
                                f"task {task['id']} ({s.kind}, {task['status']} at attempt {task['attempt']}): "
                                + "; ".join(f"attempt {r.attempt} on {r.node} {r.start:.1f}-{r.last:.1f} exit "
                                            f"{r.end_code}" for r in finished), task=task["id"])
            final = [r for r in runs if r.attempt == task["attempt"]]
            final_run = final[0] if final else None
            if task["status"] == "SUCCEEDED":
                if final_run is None or final_run.end_code != 0:
                    self.result.add("succeeded-without-running", f"task {task['id']} SUCCEEDED at attempt "
                                    f"{task['attempt']} but that attempt's record is {final_run}", task=task["id"])
                if s.kind == "fail":
                    self.result.add("wrong-outcome", f"task {task['id']} exits {s.args[0]} but SUCCEEDED",
                                    task=task["id"])
            elif task["status"] == "FAILED":
                want = expected_exit(s.kind, task["attempt"], s.args)
                if final_run is not None and final_run.end_code is not None and task["exit_code"] != final_run.end_code:
                    self.result.add("wrong-exit-code", f"task {task['id']} attempt {task['attempt']} exited "
                                    f"{final_run.end_code}, stored {task['exit_code']}", task=task["id"])
                if want == 0 and not (task["attempt"] >= task["max_attempts"]):
                    self.result.add("wrong-outcome", f"task {task['id']} ({s.kind}) FAILED at attempt "
                                    f"{task['attempt']}/{task['max_attempts']}: {task['reason']} "
                                    f"{task['message'][:160]} (exit {task['exit_code']})", task=task["id"])

    def _fenced_at(self, task: int, run: Run) -> float | None:
        """When the masters took attempt `run.attempt` away (requeue, cancel, end), and then when its node
        could hear of it (after a freeze or partition in force then)."""
        for event in self.events.get(task, []):
            if event["attempt"] == run.attempt and event["from"] in ("ASSIGNED", "RUNNING") \
                    and event["to"] != "RUNNING":
                at = event["time"]
                holding = _fault_holding(run.node, at, self.faults)
                return max(at, holding.end) if holding else at
        return None

    def concurrent_attempts(self) -> None:
        allowance = self.timers.heartbeat + self.timers.kill_grace + SLACK
        overlaps, longest = 0, 0.0
        tasks = defaultdict(list)
        for run in self.runs.values():
            tasks[run.task].append(run)
        for task, runs in tasks.items():
            runs.sort(key=lambda r: (r.attempt, r.start))
            for i, early in enumerate(runs):
                for late in runs[i + 1:]:
                    if late.attempt <= early.attempt:
                        continue
                    overlap = min(early.last, late.last) - late.start
                    if overlap <= 0:
                        continue
                    overlaps += 1
                    longest = max(longest, overlap)
                    fenced = self._fenced_at(task, early)
                    if fenced is not None and early.last > fenced + allowance:
                        where = "the same node" if early.node == late.node else "different nodes"
                        self.result.add(
                            "ran-after-fencing",
                            f"task {task}: attempt {early.attempt} on {early.node} ran until {early.last:.2f}, "
                            f"{early.last - fenced:.1f}s after it was fenced at {fenced:.2f} (allowed "
                            f"{allowance:.1f}s), while attempt {late.attempt} ran on {late.node} from "
                            f"{late.start:.2f} ({where}, overlap {overlap:.1f}s)", task=task, at=fenced)
        self.result.stats["attempt_overlaps"] = overlaps
        self.result.stats["longest_attempt_overlap_s"] = round(longest, 2)

    def cancels_take(self) -> None:
        allowance = self.timers.heartbeat + self.timers.kill_grace + SLACK
        answered = Counter()
        for cancel in self.cancels:
            answered[cancel.status] += 1
            if cancel.status != 200:
                continue
            task = self.tasks.get(cancel.task_id)
            if task is None:
                continue
            if task["status"] != "CANCELLED":
                self.result.add("cancel-not-applied", f"task {cancel.task_id}: cancel answered 200 at "
                                f"{cancel.end:.2f} but it ended {task['status']}", task=cancel.task_id)
                continue
            for run in self._runs_of(cancel.task_id):
                if run.start > cancel.end:
                    self.result.add("started-after-cancel", f"task {cancel.task_id} attempt {run.attempt} started "
                                    f"on {run.node} at {run.start:.2f}, after the cancel at {cancel.end:.2f}",
                                    task=cancel.task_id)
                holding = _fault_holding(run.node, cancel.end, self.faults)
                limit = (holding.end if holding else cancel.end) + allowance
                if run.last > limit:
                    self.result.add("ran-after-cancel", f"task {cancel.task_id} attempt {run.attempt} on {run.node} "
                                    f"ran until {run.last:.2f}, {run.last - cancel.end:.1f}s after its cancel",
                                    task=cancel.task_id)
        self.result.stats["cancels"] = {str(k): v for k, v in answered.items()}

    def capacity_and_books(self) -> None:
        s = self.sampler
        self.result.stats["allocation_samples"] = s.samples
        self.result.stats["allocation_sample_failures"] = s.failures
        self.result.stats["peak_allocation"] = {name: f"{c}/{cc}m {m}/{mc}MiB"
                                                for name, (c, cc, m, mc) in sorted(s.peak.items())}
        seen = set()
        for problem in s.problems:
            key = (problem.kind, problem.text)
            if key in seen:
                continue
            seen.add(key)
            self.result.add(problem.kind, problem.text, at=problem.time)

    def _reread_logs(self, keys: set[tuple[int, int]]) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            for task, attempt, text in conn.execute(
                    "SELECT task_id, attempt, string_agg(data, '' ORDER BY seq) FROM tasks_logchunk WHERE stream = 1 "
                    "AND task_id = ANY(%s) GROUP BY task_id, attempt", ([k[0] for k in keys],)).fetchall():
                if (task, attempt) in keys:
                    self.logs[(task, attempt)] = text

    def stored_logs(self, *, settle: float = 30.0) -> None:
        """Logs trail a task's end: a log that differs is read again for up to `settle` seconds
        (the time it took to be whole is reported) before it counts as a violation."""
        started = time.monotonic()
        while True:
            pending = self._log_mismatches()
            if not pending or time.monotonic() - started > settle:
                break
            time.sleep(5)
            self._reread_logs(pending)
        self.result.stats["log_recheck_seconds"] = round(time.monotonic() - started, 1)
        self._check_logs()

    def _log_mismatches(self) -> set[tuple[int, int]]:
        keys = set()
        for s in self.submitted:
            task = self.tasks.get(s.task_id) if s.status == 201 else None
            if task is None or task["status"] not in TERMINAL:
                continue
            for run in self._runs_of(task["id"]):
                if _must_be_whole(task, run) and self.logs.get((task["id"], run.attempt), "") != expected_output(
                        s.kind, task["id"], run.attempt, s.args):
                    keys.add((task["id"], run.attempt))
        return keys

    def _check_logs(self) -> None:
        checked = 0
        for s in self.submitted:
            task = self.tasks.get(s.task_id) if s.status == 201 else None
            if task is None or task["status"] not in TERMINAL:
                continue
            for run in self._runs_of(task["id"]):
                expected = expected_output(s.kind, task["id"], run.attempt, s.args)
                stored = self.logs.get((task["id"], run.attempt), "")
                checked += 1
                if _must_be_whole(task, run):
                    if stored != expected:
                        self.result.add("log-differs", f"task {task['id']} attempt {run.attempt} ({s.kind}): "
                                        f"{_first_difference(stored, expected)}", task=task["id"])
                elif not expected.startswith(stored) or (stored and not stored.endswith("\n")):
                    self.result.add("log-not-a-prefix", f"task {task['id']} attempt {run.attempt} ({s.kind}, "
                                    f"stopped early): {_first_difference(stored, expected[:len(stored)])}",
                                    task=task["id"])
                if run.end_code is not None and not run.terminated and self.stderr.get((task["id"], run.attempt)):
                    self.result.add("unexpected-stderr", f"task {task['id']} attempt {run.attempt}: "
                                    f"{self.stderr[(task['id'], run.attempt)][:200]!r}", task=task["id"])
        self.result.stats["attempt_logs_checked"] = checked
        self._raw_sample()

    def _raw_sample(self) -> None:
        """The download a user gets (through nginx) equals the stored chunks: every chatty task, plus a sample."""
        candidates = [s for s in self.submitted if s.status == 201 and s.task_id in self.tasks]
        chosen = [s for s in candidates if s.kind == "chatty"]
        chosen += self.rng.sample(candidates, min(30, len(candidates)))
        failures_in_a_row = 0
        for s in chosen:
            task = self.tasks[s.task_id]
            if not task["attempt"]:
                continue
            if failures_in_a_row >= 5:
                self.result.add("raw-log-unavailable", "five downloads in a row failed: the rest were not tried")
                break
            response = self.api.request("GET", f"/api/v1/tasks/{task['id']}/logs/raw?attempt={task['attempt']}",
                                        route="logs-raw", record=False, timeout=15)
            stored = self.logs.get((task["id"], task["attempt"]), "")
            failures_in_a_row = 0 if response is not None and response.status_code == 200 else failures_in_a_row + 1
            if response is None or response.status_code != 200:
                self.result.add("raw-log-unavailable", f"task {task['id']}: "
                                f"{response.status_code if response is not None else 'no answer'}", task=task["id"])
            elif response.text != stored:
                self.result.add("raw-log-differs", f"task {task['id']} attempt {task['attempt']}: download "
                                f"{_first_difference(response.text, stored)}", task=task["id"])
        self.result.stats["raw_logs_compared"] = len(chosen)

    def api_answers(self) -> None:
        kills = [f.start for f in self.faults if f.kind == "master-kill"]
        by_class = Counter()
        for o in self.api.outcomes:
            klass = "no answer" if o.status is None else f"{o.status // 100}xx"
            by_class[(o.route, klass)] += 1
            if o.status is None or o.status < 500:
                continue
            if o.retry_after:  # the "answers 429/503 with Retry-After rather than timing out"
                by_class[(o.route, "503 with Retry-After (shed or database unavailable)")] += 1
                continue
            if any(o.start - 0.2 <= k <= o.end + 0.2 for k in kills):
                by_class[(o.route, "5xx excused (master killed in flight)")] += 1
                continue
            during = [f.kind for f in self.faults if f.start - 1 <= o.end and o.start <= (f.end or f.start) + 1]
            self.result.add("server-error", f"{o.method} {o.route} answered {o.status} at {o.start:.2f} "
                            f"({o.end - o.start:.2f}s){' during ' + ', '.join(sorted(set(during))) if during else ''}",
                            at=o.start)
        self.result.stats["api_outcomes"] = {f"{route} {klass}": n for (route, klass), n in sorted(by_class.items())}

    def node_losses(self) -> None:
        """Nodes the masters marked OFFLINE without a fault on them (a kill, freeze or partition that
        began at most OFFLINE + 2 s before): a master or sweeper too slow to hear heartbeats in time."""
        unprovoked = Counter()
        for at, node, status in self.sampler.statuses:
            if status != "OFFLINE":
                continue
            cause = [f for f in self.faults if f.kind in NODE_LOSS and f.target == f"agent-{node}"
                     and f.start - 1 <= at <= (f.end or at) + self.timers.offline_after + 2]
            if not cause:
                unprovoked[node] += 1
        self.result.stats["offline_without_a_fault_on_the_node"] = dict(sorted(unprovoked.items()))

    def requeue_waits(self) -> None:
        """For every task whose node was lost (agent killed, frozen, partitioned): seconds from the fault to
        the requeue (its attempt back to PENDING) and to its next attempt RUNNING."""
        requeue, running_again = [], []
        for fault in self.faults:
            if fault.kind not in NODE_LOSS or not fault.target:
                continue
            node = fault.target.removeprefix("agent-")
            for task, events in self.events.items():
                held = {}
                for event in events:
                    if event["to"] == "ASSIGNED" and event["node"] == node:
                        held[event["attempt"]] = event["time"]
                for attempt, assigned in held.items():
                    if assigned > fault.start:
                        continue
                    leave = next((e for e in events if e["attempt"] == attempt and e["from"] in
                                  ("ASSIGNED", "RUNNING") and e["to"] != "RUNNING"), None)
                    if leave is None or leave["time"] < fault.start:
                        continue
                    if leave["to"] == "PENDING":
                        requeue.append((leave["time"] - fault.start, task, fault.kind))
                        again = next((e for e in events if e["attempt"] > attempt and e["to"] == "RUNNING"), None)
                        if again:
                            running_again.append((again["time"] - fault.start, task, fault.kind))
        requeue.sort()
        running_again.sort()
        self.result.stats["requeued_after_node_loss"] = len(requeue)
        if requeue:
            wait, task, kind = requeue[-1]
            self.result.stats["longest_requeue_wait_s"] = round(wait, 2)
            self.result.stats["longest_requeue_wait"] = f"task {task} after {kind}"
            self.result.stats["median_requeue_wait_s"] = round(requeue[len(requeue) // 2][0], 2)
        if running_again:
            wait, task, kind = running_again[-1]
            self.result.stats["longest_wait_to_running_again_s"] = round(wait, 2)

    def batch_features(self) -> None:
        """Retries, arrays and dependency chains, for the generators the API accepted (issue 16)."""
        groups = defaultdict(list)
        for s in self.submitted:
            if s.status == 201 and s.group:
                groups[s.group].append(s)
        for group, members in groups.items():
            if group.startswith("array-"):
                self._array_throttle(group, members)
            elif group.startswith("chain-"):
                self._chain_order(members)
        for s in self.submitted:
            if s.generator == "retries" and s.status == 201 and s.task_id in self.tasks:
                self._retries(s)

    def _array_throttle(self, group: str, members: list[Submitted]) -> None:
        spec = members[0].fields.get("array", "")
        if "%" not in spec:
            return
        limit = int(spec.rsplit("%", 1)[1])
        points = []
        for s in members:
            for run in self._runs_of(s.task_id):
                points += [(run.start, 1), (run.last - self.timers.kill_grace, -1)]
        running = peak = 0
        for _, step in sorted(points):
            running += step
            peak = max(peak, running)
        if peak > limit:
            self.result.add("array-throttle", f"{group} ({spec}): {peak} elements ran at once")

    def _chain_order(self, members: list[Submitted]) -> None:
        for before, after in itertools.pairwise(members):
            first, second = self.tasks.get(before.task_id), self.tasks.get(after.task_id)
            if not first or not second:
                continue
            ends = [r.last for r in self._runs_of(before.task_id) if r.end_code == 0]
            starts = [r.start for r in self._runs_of(after.task_id)]
            if starts and (not ends or min(starts) < max(ends)):
                self.result.add("dependency-order", f"task {after.task_id} started before its dependency "
                                f"{before.task_id} succeeded", task=after.task_id)
            if first["status"] in ("FAILED", "CANCELLED") and second["status"] != "CANCELLED":
                self.result.add("dependency-never-satisfied", f"task {after.task_id} is {second['status']} though "
                                f"its dependency {before.task_id} {first['status']}", task=after.task_id)

    def _retries(self, s: Submitted) -> None:
        failed = [r for r in self._runs_of(s.task_id) if r.end_code not in (None, 0)]
        if len(failed) > s.fields.get("retries", 0):
            self.result.add("retries-exceeded", f"task {s.task_id}: {len(failed)} failed attempts with retries="
                            f"{s.fields.get('retries')}", task=s.task_id)
        runs = self._runs_of(s.task_id)
        backoff = float(s.fields.get("retry_backoff", 10))
        for k, (prev, nxt) in enumerate(itertools.pairwise(runs), start=1):
            if prev.end_code not in (None, 0) and nxt.start - prev.last < 0.9 * backoff * 2 ** (k - 1) - 0.2:
                self.result.add("retry-backoff", f"task {s.task_id}: retry {k} started "
                                f"{nxt.start - prev.last:.2f}s after the failure", task=s.task_id)
