"""The node agent: registers its node, heartbeats, reconciles what it runs to what the master
wants, and ships every task's output and end to the master, surviving its own restarts. It wires
the parts and carries out their decisions:

    ledger     (agent.ledger)    the attempts it holds and what follows from them
    spawner    (agent.spawning)  starts a task's process
    reaper     (agent.reaping)   watches running processes until they end (thread "executor")
    shipper    (agent.shipper)   sends due reports and spooled output (thread "shipper")
    link       (agent.link)      the WebSocket (thread "link"); client: HTTP
    lease      (agent.lease)     no heartbeat answer for longer than it: the tasks are stopped

The main thread registers and heartbeats. No lock is held across network I/O, so a slow master
can never stall the reaper, and a task never waits on us. Every thread loop runs under
`LoopGuard`: a loop that keeps failing stops the agent with exit code 70; a registration the
master refuses stops it with exit code 2.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time

from agent import protocol
from agent.backoff import Backoff
from agent.client import MasterClient, Rejected, Unreachable
from agent.config import AgentConfig
from agent.cpus import CpuPlan, available_cpus
from agent.devices import GpuUsageSampler
from agent.guardian import Guardian
from agent.isolation import WorkRoot, describe, task_user
from agent.lease import Lease
from agent.ledger import AttemptLedger
from agent.limits import CpuPinning, memory_limiter
from agent.link import Link
from agent.loops import EXIT_REFUSED, EXIT_SOFTWARE, LoopGuard
from agent.masters import Masters
from agent.protocol import DownFrame, ExitReason, Report
from agent.reaping import Reaper
from agent.reconcile import Key, key_of
from agent.shipper import LogShipper
from agent.spawning import RunningTask, Spawner, TaskSpec, create_time_of, process_matches
from agent.spool import AttemptSpool, SpoolBudget, disk_usage, spooled_attempts
from agent.state import Identity, ProcessRecord, StateDir
from agent.usage import UsageMeter

log = logging.getLogger("agent")

VERSION = "1"
LEASE_LOST = "No master answered the agent's heartbeats for longer than its lease; it stopped the task."


class FatalError(Exception):
    """Configuration the master refuses (wrong join token, invalid name): retrying cannot help."""


class NodeAgent:
    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self.state = StateDir(config.state_dir)
        self.task_user = task_user(config.task_user)
        self.work = WorkRoot.for_state_dir(self.state.root, str(config.work_dir or ""), self.task_user)
        self.masters = Masters(list(config.masters))
        self.client = MasterClient(self.masters)
        self.identity: Identity | None = None
        self.heartbeat_interval = 3.0
        self.stopping = threading.Event()
        self.exit_code = 0
        self.last_ack = 0.0  # monotonic time of the last WebSocket heartbeat answer
        self.ws_beats_unanswered = False
        self.budget = SpoolBudget(config.spool_max_bytes)
        self.ledger = AttemptLedger()
        self._records_lock = threading.Lock()  # a record's change and its save, in one order
        self.guardian = Guardian()
        self.lease = Lease()
        self.lease_killed: set[Key] = set()  # attempts the agent killed because its lease ran out
        self.limiter = memory_limiter()
        self.pinning = CpuPinning(CpuPlan(available_cpus())) if config.exclusive_cpus else None
        self.spawner = Spawner(node_name=config.name, limiter=self.limiter, pinning=self.pinning,
                               user=self.task_user)
        self.reaper = Reaper(limiter=self.limiter, kill_grace=5.0, on_output=lambda running: self.shipper.wake(),
                             on_exit=self._on_exit, on_reaped=self._on_reaped, on_fatal=self._fatal)
        self.usage = UsageMeter(carved=config.carved, cpu_millicores=config.cpu_millicores, mem_mib=config.mem_mib)
        self.gpu_usage = GpuUsageSampler(enabled=bool(config.gpus))
        self.offered_gpus = {device["index"] for device in config.gpus}
        self.link = Link(self.masters, token=lambda: self.identity.token if self.identity else None,
                         on_frame=self._on_frame, on_connect=self._on_connect, on_fatal=self._fatal)
        self.shipper = LogShipper(ledger=self.ledger, link=self.link, running_reports=self._running_reports,
                                  on_fatal=self._fatal)

    # -- lifecycle --------------------------------------------------------------------------

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stopping.set())
        log.info("agent starting", extra={"node": self.config.name, "masters": self.config.masters,
                                          "memory_limits": self.limiter.kind, "state_dir": str(self.state.root),
                                          "work_dir": str(self.work.root), "task_user": describe(self.task_user)})
        if self.task_user is None:
            log.warning("tasks run as the agent's own user: they can read its state dir (the node token), its "
                        "environment and other tasks' files; run the agent as root (without --task-user naming "
                        "its own user) to run tasks as a user of their own", extra={"user": describe(None)})
        self._recover_previous_life()
        try:
            self._register()
        except FatalError as error:
            log.error("cannot join the cluster", extra={"error": str(error)})
            self._close()
            return EXIT_REFUSED
        if self.stopping.is_set():
            self._close()
            return 0
        self.link.start()
        self.shipper.start()
        guard = LoopGuard("heartbeat", on_fatal=self._fatal)
        while not self.stopping.is_set():
            started = time.monotonic()
            if not guard.run(self._beat):
                break
            self.stopping.wait(max(0.0, self.heartbeat_interval - (time.monotonic() - started)))
        self._shutdown()
        return self.exit_code

    def _beat(self) -> None:
        try:
            self._heartbeat()
            self._enforce_lease()
        except FatalError as error:
            # Registering again was refused (the join token rotated, the node forgotten): stop
            # cleanly and say why; a supervisor restarting us would only be refused again.
            log.error("cannot join the cluster again; stopping", extra={"error": str(error)})
            self.exit_code = EXIT_REFUSED
            self.stopping.set()

    def _fatal(self, loop: str) -> None:
        """A loop keeps failing: stop the agent (cleanly, as on SIGTERM) with a non-zero exit."""
        if not self.exit_code:
            self.exit_code = EXIT_SOFTWARE
        self.stopping.set()

    def _recover_previous_life(self) -> None:
        """Kill what a previous life left running; report each attempt it had as lost (or exited,
        if it ended before the agent died), after its spooled output is delivered."""
        spools = {key: AttemptSpool.recover(self.state.spool, *key, self.budget)
                  for key in spooled_attempts(self.state.spool)}
        records = self.state.load_processes()
        for record in records:
            if record.pid and process_matches(record.pid, record.create_time):
                try:
                    os.killpg(record.pid, signal.SIGKILL)
                    log.warning("killed a task left by a previous life", extra={"task": record.task, "pid": record.pid})
                except OSError:
                    pass
        for key in self.ledger.recover(spools=spools, records=records):
            self._forget(key)
        log.info("state recovered", extra={"attempts": len(self.ledger.ended),
                                           "spool_bytes": disk_usage(self.state.spool)})

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
                    labels=self.config.labels, node_token=token, gpus=list(self.config.gpus),
                    resources=self.config.resources,
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
            # Registered: the agent's environment no longer needs the join token (the config keeps
            # it for a registration refused later); children never see it.
            os.environ.pop("SCHEDULER_JOIN_TOKEN", None)
            self.ledger.new_registration()
            self.identity = identity
            self.heartbeat_interval = float(answer.get("heartbeat_interval", 3.0))
            self.reaper.kill_grace = float(answer.get("kill_grace", 5.0))
            lease_after = answer.get("offline_after") if answer.get("task_lease") else None  # the cluster's choice
            self.lease.configure(offline_after=lease_after, heartbeat_interval=self.heartbeat_interval)
            self._renew_lease()
            log.info("registered", extra={"node_id": identity.node_id, "node": identity.name})
            return

    def _shutdown(self) -> None:
        """SIGTERM: take no more work, stop the tasks, deliver their output and any pending ends,
        then `leave`: the master takes the node OFFLINE and requeues what it ran, in one go."""
        log.info("agent stopping")
        for key in list(self.reaper.tasks):
            self.reaper.kill(*key, reason=ExitReason.KILLED)
        deadline = time.monotonic() + self.reaper.kill_grace + 2
        while self.reaper.tasks and time.monotonic() < deadline:
            time.sleep(0.05)
        self.shipper.wake()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not self.ledger.settled():
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
        self.shipper.close()
        self.link.stop()
        self.reaper.stop()
        self.guardian.close()
        self.work.close()

    # -- heartbeats -------------------------------------------------------------------------

    def _heartbeat(self) -> None:
        """Over the WebSocket when it is up and answering (light: usage in, generation out); over
        HTTP otherwise (full: every running task and pending end in, desired state out)."""
        identity = self.identity
        if identity is None:
            return
        cpu, mem = self.usage.sample(task_cpu_seconds=self.reaper.watch.take_cpu_used(),
                                     task_rss_bytes=self.reaper.watch.rss_bytes)
        gpus = self.gpu_usage.sample()
        if gpus is not None:  # the devices this node offers only
            gpus = [entry for entry in gpus if entry["index"] in self.offered_gpus]
        answered = time.monotonic() - self.last_ack < 2.5 * self.heartbeat_interval
        usable = self.link.connected.is_set() and (answered or not self.ws_beats_unanswered)
        if usable and self.link.send(protocol.heartbeat(cpu_usage=cpu, mem_usage=mem, gpu_usage=gpus)):
            self.ws_beats_unanswered = True
            return
        reports = self.ledger.reports_due(running=self._running_reports(), for_heartbeat=True)
        body = protocol.heartbeat_body(cpu_usage=cpu, mem_usage=mem, reports=reports, gpu_usage=gpus)
        try:
            answer = self.client.heartbeat(node_id=identity.node_id, token=identity.token, body=body)
        except Unreachable as error:
            log.warning("heartbeat failed; tasks keep running", extra={"error": str(error)})
            return
        except Rejected as error:
            if error.status in (401, 403, 404):
                log.warning("the master does not know this node any more; registering again",
                            extra={"status": error.status})
                self.identity = None
                self._register()
            else:
                log.error("heartbeat refused", extra={"error": str(error)})
            return
        self.heartbeat_interval = float(answer.get("heartbeat_interval", self.heartbeat_interval))
        self._renew_lease()
        self._apply(answer)

    # -- the lease ----------------------------------------------------------------------------

    def _renew_lease(self) -> None:
        """A master answered a heartbeat (or a registration): the lease starts again, here and in
        the guardian, which stops every task itself if the next renewal does not come in time."""
        self.lease.renew()
        if self.lease.duration is not None:
            self.guardian.lease(self.lease.duration)

    def _enforce_lease(self) -> None:
        """No heartbeat answer for longer than the lease: the masters are about to give this node
        up and requeue its tasks; stop them first (reported `lost`, so they run again elsewhere)."""
        if not self.lease.expired():
            return
        for key in list(self.reaper.tasks):
            if key in self.lease_killed:
                continue
            log.warning("no master has answered for longer than the lease; stopping the task",
                        extra={"task": key[0], "attempt": key[1], "lease_s": self.lease.duration})
            self.lease_killed.add(key)
            self.reaper.kill(*key, reason=ExitReason.KILLED)

    def _running_reports(self) -> dict[Key, Report]:
        return {running.key: protocol.running(task=running.spec.task, attempt=running.spec.attempt,
                                              pid=running.pid, at=running.started_at)
                for running in self.reaper.running()}

    # -- answers from the master --------------------------------------------------------------

    def _on_connect(self) -> None:
        for spool in self.ledger.connected():
            spool.rewind()
        self.link.send(protocol.sync())
        self.shipper.wake()

    def _on_frame(self, frame: dict) -> None:
        kind = frame.get("type")
        if kind in (DownFrame.DESIRED, DownFrame.HEARTBEAT, DownFrame.VERDICTS):
            self._apply(frame)
        elif kind == DownFrame.HEARTBEAT_ACK:
            self.last_ack, self.ws_beats_unanswered = time.monotonic(), False
            self._renew_lease()
            generation = frame.get("generation")
            if generation is not None and generation > self.ledger.generation_seen:
                self.link.send(protocol.sync())  # our desired state is behind: fetch it
        elif kind == DownFrame.LOG_ACK:
            self._on_log_ack(frame)
        elif kind == DownFrame.ERROR:
            log.warning("the master refused a frame",
                        extra={"detail": frame.get("detail"), "frame": frame.get("frame")})
            if frame.get("frame") == protocol.UpFrame.LOGS:
                for spool in self.ledger.spools_to_ship():
                    spool.refused()  # what was in flight goes again, one chunk a frame, then as a gap
                self.shipper.wake()

    def _apply(self, answer: dict) -> None:
        for verdict in answer.get("verdicts", []):
            decision = self.ledger.verdict(verdict)
            if decision == "stale":
                self._drop_stale(key_of(verdict), detail=verdict.get("detail", ""))
            elif decision == "forget":
                self._forget(key_of(verdict))
        plan = self.ledger.plan(answer, running=list(self.reaper.tasks), accepting=not self.stopping.is_set())
        if plan is None:
            return
        for key in plan.kill:
            log.info("killing a task the master no longer wants here", extra={"task": key[0], "attempt": key[1]})
            self.reaper.kill(*key, reason=ExitReason.KILLED)
        for assignment in plan.start:
            try:
                self._start(TaskSpec.from_assignment(assignment))
            finally:
                self.ledger.start_settled(key_of(assignment))
        if plan.lost:
            self.shipper.wake()

    def _drop_stale(self, key: Key, *, detail: str = "") -> None:
        log.warning("the master says this attempt is not ours; killing it and dropping its output",
                    extra={"task": key[0], "attempt": key[1], "detail": detail})
        self.reaper.kill(*key, reason=ExitReason.KILLED)
        if self.ledger.stale(key, running=key in self.reaper.tasks):
            self._forget(key)

    def _on_log_ack(self, frame: dict) -> None:
        by_key: dict[Key, list[int]] = {}
        for task, attempt, seq in frame.get("acked", []):
            by_key.setdefault((task, attempt), []).append(seq)
        for key, seqs in by_key.items():
            spool = self.ledger.spool(key)
            if spool is not None:
                spool.ack(seqs)
                if self.ledger.output_acked(key):
                    self._forget(key)
        for task, attempt in frame.get("stale", []):
            self._drop_stale((task, attempt))
        self.shipper.wake()

    # -- running tasks ------------------------------------------------------------------------

    def _start(self, spec: TaskSpec) -> None:
        key = spec.key
        record = ProcessRecord(task=spec.task, attempt=spec.attempt)
        self.state.save_process(record)  # before the process exists: a crash in between still cleans up
        spool = AttemptSpool(self.state.spool, spec.task, spec.attempt, self.budget)
        self.ledger.track(record, spool)
        try:
            running = self.spawner.spawn(spec, spool=spool, workdir=self.work.create(*key))
        except OSError as error:
            spool.note("stderr", f"[mini-scheduler agent] could not start the command: {error}\n")
            spool.close()
            self.ledger.ended_here(key, protocol.exited(task=spec.task, attempt=spec.attempt, exit_code=127,
                                                        message=str(error)))
            self.shipper.wake()
            return
        self.guardian.watch(running.pid)
        self.reaper.adopt(running)
        self._save_record(key, pid=running.pid, create_time=create_time_of(running.pid))
        log.info("task started", extra={"task": spec.task, "attempt": spec.attempt, "pid": running.pid})
        self.ledger.start_sent(key)
        # Not connected (or the send fails and drops the link): `_on_connect` makes it due again.
        self.link.send(protocol.report_frame([protocol.running(task=spec.task, attempt=spec.attempt,
                                                               pid=running.pid, at=running.started_at)]))

    def _save_record(self, key: Key, **fields: object) -> None:
        # The reaper may be recording the exit of this very process already: change and save in one order.
        with self._records_lock:
            record = self.ledger.update_record(key, **fields)
            if record is not None:
                self.state.save_process(record)

    def _on_reaped(self, running: RunningTask) -> None:
        self.guardian.forget(running.pid)
        if self.pinning is not None:
            self.pinning.release(running.key)

    def _on_exit(self, running: RunningTask) -> None:
        """Reaper thread: record the end; the shipper reports it once the output is delivered."""
        key = running.key
        by_lease = key in self.lease_killed or (
            running.exit_reason is None
            and self.lease.killed_by_lease(started_at=running.started_at, exit_code=running.exit_code))
        self.lease_killed.discard(key)
        if by_lease:
            # Not the command's end: the lease ran out (agent or guardian). No exit code in the record,
            # so a next life reports it lost too; the master requeues it (or has already).
            log.warning("task stopped by the lease; reporting it lost", extra={"task": key[0], "attempt": key[1]})
            self.ledger.ended_here(key, protocol.lost(task=key[0], attempt=key[1], message=LEASE_LOST))
            self.shipper.wake()
            return
        self._save_record(key, exit_code=running.exit_code, reason=running.exit_reason)
        if self.stopping.is_set() and running.exit_reason == ExitReason.KILLED:
            # Killed because the agent is stopping, not for anything the task did: no end to report;
            # `leave` requeues it once its output is delivered.
            self.ledger.ended_here(key, None)
        else:
            self.ledger.ended_here(key, protocol.exited(task=key[0], attempt=key[1], exit_code=running.exit_code,
                                                        reason=running.exit_reason, at=time.time()))
        self.shipper.wake()

    def _forget(self, key: Key) -> None:
        """The master has this attempt's end and all its output: drop its files."""
        spool = self.ledger.forget(key)
        if spool is not None:
            spool.remove()
        self.state.drop_process(*key)
        self.work.drop(*key)
