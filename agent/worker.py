"""The agent: registers its node, heartbeats, reconciles what it runs to what the master wants,
and ships every task's output and end to the master, surviving its own restarts.

Threads: the main thread registers and heartbeats (HTTP); `link` reads the WebSocket (nudges,
acks, verdicts); `executor` runs processes; `shipper` sends spooled output and pending reports.
Bookkeeping is shared under one lock that is never held across network I/O, so a slow master
can never stall the executor, and a task never waits on us.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import psutil

from agent.backoff import Backoff
from agent.client import MasterClient, Rejected, Unreachable
from agent.config import AgentConfig
from agent.cpus import CpuPlan, available_cpus
from agent.executor import Executor, RunningTask, TaskSpec, process_matches
from agent.guardian import Guardian
from agent.limits import memory_limiter
from agent.link import Link
from agent.masters import Masters
from agent.reconcile import GenerationGate, Key, key_of, reconcile
from agent.spool import AttemptSpool, SpoolBudget, disk_usage, spooled_attempts
from agent.state import Identity, ProcessRecord, StateDir
from agent.usage import UsageMeter

log = logging.getLogger("agent")

VERSION = "1"
MAX_CHUNKS_IN_FLIGHT = 256
MAX_BYTES_IN_FLIGHT = 1024 * 1024  # per attempt: a flood cannot queue much ahead of another task's output
REPORT_RESEND_AFTER = 2.0
START_REPORT_DUE = float("-inf")  # an unconfirmed start's "sent at" when it must go out at once
REPORT_MAX_WAIT_FOR_LOGS = 30.0  # an end report waits for its output to be stored, at most this long
REMEMBERED_ATTEMPTS = 10_000


class FatalError(Exception):
    """Configuration the master refuses (wrong join token, invalid name): retrying cannot help."""


@dataclass
class Ended:
    """An attempt that ended here (this life or the last), and its report until the master takes it."""

    report: dict | None
    since: float
    sent_at: float | None = None


class Agent:
    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self.state = StateDir(config.state_dir)
        self.masters = Masters(list(config.masters))
        self.client = MasterClient(self.masters)
        self.identity: Identity | None = None
        self.heartbeat_interval = 3.0
        self.lock = threading.RLock()
        self.stopping = threading.Event()
        self.closed = threading.Event()
        self.shipper_wake = threading.Event()
        self.budget = SpoolBudget(config.spool_max_bytes)
        self.spools: dict[Key, AttemptSpool] = {}
        self.records: dict[Key, ProcessRecord] = {}
        self.ended: OrderedDict[Key, Ended] = OrderedDict()
        self.starting: set[Key] = set()  # claimed by one thread's plan, not yet in the executor
        self.unconfirmed_starts: dict[Key, float] = {}  # started here, not yet acknowledged: sent_at
        self.last_ack = 0.0  # monotonic time of the last WebSocket heartbeat answer
        self.ws_beats_unanswered = False
        self.gate = GenerationGate()
        self.guardian = Guardian()
        self.limiter = memory_limiter()
        self.executor = Executor(
            node_name=config.name, limiter=self.limiter, kill_grace=5.0,
            on_output=lambda running: self.shipper_wake.set(), on_exit=self._on_exit,
            on_spawn=self.guardian.watch, on_reaped=self.guardian.forget,
            cpu_plan=CpuPlan(available_cpus()) if config.exclusive_cpus else None,
        )
        self.usage = UsageMeter(carved=config.carved, cpu_millicores=config.cpu_millicores, mem_mib=config.mem_mib)
        self.link = Link(self.masters, token=lambda: self.identity.token if self.identity else None,
                         on_frame=self._on_frame, on_connect=self._on_connect)
        self._shipper = threading.Thread(target=self._ship_loop, name="shipper", daemon=True)

    # -- lifecycle --------------------------------------------------------------------------

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stopping.set())
        log.info("agent starting", extra={"node": self.config.name, "masters": self.config.masters,
                                          "memory_limits": self.limiter.kind, "state_dir": str(self.state.root)})
        self._recover_previous_life()
        try:
            self._register()
        except FatalError as error:
            log.error("cannot join the cluster", extra={"error": str(error)})
            self._close()
            return 2
        if self.stopping.is_set():
            self._close()
            return 0
        self.link.start()
        self._shipper.start()
        while not self.stopping.is_set():
            started = time.monotonic()
            self._heartbeat()
            self.stopping.wait(max(0.0, self.heartbeat_interval - (time.monotonic() - started)))
        self._shutdown()
        return 0

    def _recover_previous_life(self) -> None:
        """Kill what a previous life left running; report each attempt it had as lost (or exited,
        if it ended before the agent died), after its spooled output is delivered."""
        for (task, attempt) in spooled_attempts(self.state.spool):
            self.spools[(task, attempt)] = AttemptSpool.recover(self.state.spool, task, attempt, self.budget)
        for record in self.state.load_processes():
            key = (record.task, record.attempt)
            if record.pid and process_matches(record.pid, record.create_time):
                try:
                    os.killpg(record.pid, signal.SIGKILL)
                    log.warning("killed a task left by a previous life", extra={"task": record.task, "pid": record.pid})
                except OSError:
                    pass
            if record.exit_code is not None:
                report = {"state": "exited", "exit_code": record.exit_code, "reason": record.reason}
            else:
                report = {"state": "lost", "message": "The agent restarted; it killed the task's processes."}
            self.records[key] = record
            self.ended[key] = Ended(report={"task": record.task, "attempt": record.attempt, **report},
                                    since=time.monotonic())
        for key, spool in list(self.spools.items()):
            if key not in self.ended:  # output of an attempt whose end the master already has
                self.ended[key] = Ended(report=None, since=time.monotonic())
            if spool.fully_acked and self.ended[key].report is None:
                self._forget_attempt(key)
        log.info("state recovered", extra={"attempts": len(self.ended), "spool_bytes": disk_usage(self.state.spool)})

    def _register(self) -> None:
        backoff = Backoff(base=0.5, cap=10.0)
        saved = self.state.load_identity()
        while not self.stopping.is_set():
            known = saved and saved.name == self.config.name and saved.master in self.config.masters
            token = saved.token if known else None
            try:
                answer = self.client.register(
                    join_token=self.config.join_token, name=self.config.name,
                    cpu_millicores=self.config.cpu_millicores, mem_mib=self.config.mem_mib,
                    labels=self.config.labels, node_token=token,
                    agent_info={"version": VERSION, "pid": os.getpid(), "hostname": socket.gethostname(),
                                "memory_limits": self.limiter.kind},
                )
            except Unreachable as error:
                delay = backoff.next_delay()
                log.warning("master unreachable; retrying", extra={"error": str(error), "retry_in": round(delay, 2)})
                self.stopping.wait(delay)
                continue
            except Rejected as error:
                if error.status == 409:
                    delay = backoff.next_delay()
                    log.error("node name in use by a live node; retrying",
                              extra={"detail": error.detail, "retry_in": round(delay, 2)})
                    self.stopping.wait(delay)
                    continue
                raise FatalError(f"the master refused registration: {error}") from None
            identity = Identity(master=self.masters.current(), name=self.config.name, node_id=answer["id"],
                                token=answer["token"])
            self.state.save_identity(identity)
            with self.lock:
                self.identity = identity
                self.gate.reset()
            self.heartbeat_interval = float(answer.get("heartbeat_interval", 3.0))
            self.executor.kill_grace = float(answer.get("kill_grace", 5.0))
            log.info("registered", extra={"node_id": identity.node_id, "node": identity.name})
            return

    def _shutdown(self) -> None:
        """SIGTERM: take no more work, stop the tasks, deliver their output and any pending ends,
        then `leave`: the master takes the node OFFLINE and requeues what it ran, in one go."""
        log.info("agent stopping")
        running = list(self.executor.tasks)
        for key in running:
            self.executor.kill(*key, reason="killed")
        deadline = time.monotonic() + self.executor.kill_grace + 2
        while self.executor.tasks and time.monotonic() < deadline:
            time.sleep(0.05)
        self.shipper_wake.set()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and (
            any(e.report for e in self.ended.values()) or any(not s.fully_acked for s in self.spools.values())
        ):
            if not self.link.connected.is_set():
                self._heartbeat()  # end reports still travel by HTTP
            time.sleep(0.05)
        if self.identity:
            try:
                self.client.leave(node_id=self.identity.node_id, token=self.identity.token)
            except (Rejected, Unreachable) as error:
                log.warning("could not tell the master we are leaving", extra={"error": str(error)})
        self._close()
        log.info("agent stopped")

    def _close(self) -> None:
        self.closed.set()
        self.shipper_wake.set()
        self.link.stop()
        self.executor.stop()
        self.guardian.close()

    # -- heartbeats -------------------------------------------------------------------------

    def _heartbeat(self) -> None:
        """Over the WebSocket when it is up and answering (light: usage in, generation out); over
        HTTP otherwise (full: every running task and pending end in, desired state out)."""
        identity = self.identity
        if identity is None:
            return
        cpu, mem = self.usage.sample(task_cpu_seconds=self.executor.take_cpu_used(),
                                     task_rss_bytes=self.executor.rss_bytes)
        answered = time.monotonic() - self.last_ack < 2.5 * self.heartbeat_interval
        usable = self.link.connected.is_set() and (answered or not self.ws_beats_unanswered)
        if usable and self.link.send({"type": "heartbeat", "cpu_usage": cpu, "mem_usage": mem}):
            self.ws_beats_unanswered = True
            return
        body = {"cpu_usage": cpu, "mem_usage": mem, "tasks": self._reports(for_heartbeat=True)}
        try:
            answer = self.client.heartbeat(node_id=identity.node_id, token=identity.token, body=body)
        except Unreachable as error:
            log.warning("heartbeat failed; tasks keep running", extra={"error": str(error)})
            return
        except Rejected as error:
            if error.status in (401, 403, 404):
                log.warning("the master does not know this node any more; registering again",
                            extra={"status": error.status})
                with self.lock:
                    self.identity = None
                self._register()
            else:
                log.error("heartbeat refused", extra={"error": str(error)})
            return
        self.heartbeat_interval = float(answer.get("heartbeat_interval", self.heartbeat_interval))
        self._apply(answer)

    def _reports(self, *, for_heartbeat: bool) -> list[dict]:
        """Reports to send now: end reports whose output is delivered (or waited long enough),
        and, in a heartbeat, every running task."""
        now = time.monotonic()
        out = []
        with self.lock:
            for key, running in list(self.executor.tasks.items()):
                sent = self.unconfirmed_starts.get(key)
                due = sent is not None and now - sent > REPORT_RESEND_AFTER
                if running.exited_at is None and (for_heartbeat or due):
                    out.append({"task": key[0], "attempt": key[1], "state": "running", "pid": running.pid,
                                "at": running.started_at})
                    if due:
                        self.unconfirmed_starts[key] = now
            for key, ended in self.ended.items():
                if ended.report is None:
                    continue
                spool = self.spools.get(key)
                logs_done = spool is None or spool.fully_acked or now - ended.since > REPORT_MAX_WAIT_FOR_LOGS
                resend_due = ended.sent_at is None or now - ended.sent_at > REPORT_RESEND_AFTER
                if logs_done and (for_heartbeat or resend_due):
                    out.append(ended.report)
                    ended.sent_at = now
        return out

    # -- answers from the master --------------------------------------------------------------

    def _on_connect(self) -> None:
        with self.lock:
            for spool in self.spools.values():
                spool.rewind()
            for key in self.unconfirmed_starts:  # a start report lost with the old connection
                self.unconfirmed_starts[key] = START_REPORT_DUE
            for ended in self.ended.values():
                ended.sent_at = None
        self.link.send({"type": "sync"})
        self.shipper_wake.set()

    def _on_frame(self, frame: dict) -> None:
        kind = frame.get("type")
        if kind in ("desired", "heartbeat", "verdicts"):
            self._apply(frame)
        elif kind == "heartbeat_ack":
            self.last_ack, self.ws_beats_unanswered = time.monotonic(), False
            generation = frame.get("generation")
            if generation is not None and generation > self.gate.seen:
                self.link.send({"type": "sync"})  # our desired state is behind: fetch it
        elif kind == "log_ack":
            self._on_log_ack(frame)
        elif kind == "error":
            log.warning("the master refused a frame",
                        extra={"detail": frame.get("detail"), "frame": frame.get("frame")})
            if frame.get("frame") == "logs":
                with self.lock:
                    spools = list(self.spools.values())
                for spool in spools:
                    spool.refused()
                self.shipper_wake.set()

    def _apply(self, answer: dict) -> None:
        for verdict in answer.get("verdicts", []):
            self._on_verdict(verdict)
        if "assignments" not in answer:
            return
        with self.lock:
            if not self.gate.admit(answer.get("generation")):
                return
            plan = reconcile(
                assignments=answer["assignments"],
                running=[*self.executor.tasks, *self.starting],
                finished=self.ended.keys(),
                accepting=not self.stopping.is_set(),
            )
            self.starting.update(key_of(assignment) for assignment in plan.start)
            for key in plan.lost:
                self.ended[key] = Ended(
                    report={"task": key[0], "attempt": key[1], "state": "lost",
                            "message": "The agent does not have this task (it restarted or lost it)."},
                    since=time.monotonic(),
                )
        for key in plan.kill:
            log.info("killing a task the master no longer wants here", extra={"task": key[0], "attempt": key[1]})
            self.executor.kill(*key, reason="killed")
        for assignment in plan.start:
            try:
                self._start(assignment)
            finally:
                with self.lock:
                    self.starting.discard(key_of(assignment))
        if plan.lost:
            self.shipper_wake.set()

    def _on_verdict(self, verdict: dict) -> None:
        key = key_of(verdict)
        with self.lock:
            self.unconfirmed_starts.pop(key, None)
        if verdict.get("result") == "stale":
            self._drop_stale(key, detail=verdict.get("detail", ""))
            return
        if verdict.get("state") in ("exited", "lost"):
            with self.lock:
                ended = self.ended.get(key)
                if ended is not None:
                    ended.report = None
                spool = self.spools.get(key)
                done = spool is None or spool.fully_acked
            if done:
                self._forget_attempt(key)

    def _drop_stale(self, key: Key, *, detail: str = "") -> None:
        log.warning("the master says this attempt is not ours; killing it and dropping its output",
                    extra={"task": key[0], "attempt": key[1], "detail": detail})
        self.executor.kill(*key, reason="killed")
        with self.lock:
            self.ended.setdefault(key, Ended(report=None, since=time.monotonic())).report = None
            spool = self.spools.get(key)
            if spool is not None:
                spool.closed = True
        if key not in self.executor.tasks:
            self._forget_attempt(key)

    def _on_log_ack(self, frame: dict) -> None:
        by_key: dict[Key, list[int]] = {}
        for task, attempt, seq in frame.get("acked", []):
            by_key.setdefault((task, attempt), []).append(seq)
        for key, seqs in by_key.items():
            with self.lock:
                spool = self.spools.get(key)
            if spool is not None:
                spool.ack(seqs)
                with self.lock:
                    ended = self.ended.get(key)
                    finished = spool.fully_acked and ended is not None and ended.report is None
                if finished:
                    self._forget_attempt(key)
        for task, attempt in frame.get("stale", []):
            self._drop_stale((task, attempt))
        self.shipper_wake.set()

    # -- running tasks ------------------------------------------------------------------------

    def _start(self, assignment: dict) -> None:
        spec = TaskSpec(
            task=int(assignment["task"]), attempt=int(assignment["attempt"]), command=assignment["command"],
            env=dict(assignment.get("env") or {}), timeout=assignment.get("timeout"),
            cpu=int(assignment.get("cpu") or 0), mem=int(assignment.get("mem") or 0), name=assignment.get("name") or "",
        )
        key = (spec.task, spec.attempt)
        record = ProcessRecord(task=spec.task, attempt=spec.attempt)
        self.state.save_process(record)  # before the process exists: a crash in between still cleans up
        spool = AttemptSpool(self.state.spool, spec.task, spec.attempt, self.budget)
        with self.lock:
            self.records[key] = record
            self.spools[key] = spool
        try:
            running = self.executor.start(spec, spool=spool, workdir=self.state.workdir(*key))
        except OSError as error:
            spool.note("stderr", f"[mini-scheduler agent] could not start the command: {error}\n")
            spool.close()
            self._ended(key, {"state": "exited", "exit_code": 127, "reason": None, "message": str(error)})
            return
        try:
            create_time = psutil.Process(running.pid).create_time()
        except psutil.Error:
            create_time = None
        with self.lock:  # the executor may be recording the exit of this very process already
            record.pid, record.create_time = running.pid, create_time
            self.state.save_process(record)
        log.info("task started", extra={"task": spec.task, "attempt": spec.attempt, "pid": running.pid})
        with self.lock:
            self.unconfirmed_starts[key] = time.monotonic()
        # Not connected (or the send fails and drops the link): `_on_connect` makes it due again.
        self.link.send({"type": "report", "reports": [
            {"task": spec.task, "attempt": spec.attempt, "state": "running", "pid": running.pid,
             "at": running.started_at},
        ]})

    def _on_exit(self, running: RunningTask) -> None:
        """Executor thread: record the end; the shipper reports it once the output is delivered."""
        key = running.key
        with self.lock:
            self.unconfirmed_starts.pop(key, None)
            record = self.records.get(key)
            if record is not None:
                record.exit_code, record.reason = running.exit_code, running.exit_reason
                self.state.save_process(record)
        if self.stopping.is_set() and running.exit_reason == "killed":
            # Killed because the agent is stopping, not for anything the task did: no end to report;
            # `leave` requeues it once its output is delivered.
            self._ended(key, None)
        else:
            self._ended(key, {"state": "exited", "exit_code": running.exit_code, "reason": running.exit_reason,
                              "at": time.time()})

    def _ended(self, key: Key, report: dict | None) -> None:
        with self.lock:
            # An attempt already settled (refused as stale) has nothing left to report.
            if key not in self.ended:
                full = {"task": key[0], "attempt": key[1], **report} if report is not None else None
                self.ended[key] = Ended(report=full, since=time.monotonic())
        self.shipper_wake.set()

    def _forget_attempt(self, key: Key) -> None:
        """The master has this attempt's end and all its output: drop the files, keep the key."""
        with self.lock:
            spool = self.spools.pop(key, None)
            self.records.pop(key, None)
            if key in self.ended:
                self.ended[key].report = None
            self._trim_ended()
        if spool is not None:
            spool.remove()
        self.state.drop_process(*key)
        self.state.drop_workdir(*key)

    def _trim_ended(self) -> None:
        while len(self.ended) > REMEMBERED_ATTEMPTS:
            oldest, ended = next(iter(self.ended.items()))
            if ended.report is not None or oldest in self.spools:
                break
            self.ended.popitem(last=False)

    # -- shipping output and reports -----------------------------------------------------------

    def _ship_loop(self) -> None:
        while not self.closed.is_set():
            self.shipper_wake.wait(0.5)
            self.shipper_wake.clear()
            if not self.link.connected.is_set():
                continue
            # Reports first: a task's start reaches the master before its first output does.
            reports = self._reports(for_heartbeat=False)
            if reports and not self.link.send({"type": "report", "reports": reports}):
                with self.lock:
                    for ended in self.ended.values():
                        ended.sent_at = None
                continue
            self._ship_logs()

    def _ship_logs(self) -> None:
        """Round robin: one frame per attempt per round, each attempt's unacknowledged bytes bounded,
        so one task's flood never holds back another task's output."""
        with self.lock:
            spools = list(self.spools.values())
        while spools:
            ready = []
            for spool in spools:
                if not (spool.has_unsent and spool.in_flight() < MAX_CHUNKS_IN_FLIGHT
                        and spool.in_flight_bytes() < MAX_BYTES_IN_FLIGHT):
                    continue
                chunks = spool.unsent()
                if not chunks:
                    continue
                frame = {"type": "logs", "chunks": [
                    {"task": spool.task, "attempt": spool.attempt, **chunk} for chunk in chunks
                ]}
                if not self.link.send(frame):
                    return
                spool.mark_sent(chunks[-1]["seq"])
                ready.append(spool)
            spools = ready
