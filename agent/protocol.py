"""The agent protocol, defined once for both ends of the wire: its vocabulary (frame types, report
states, exit reasons, verdicts, streams), builders for every frame, and the validating parsers the
master runs on what agents send. Pure: the standard library only, no Django, so the agent and the
master import the same names and a renamed field breaks a test, not production.

Frames are JSON objects with a `type`. Agent -> master, over the agent WebSocket:
    sync                                 send me my desired state
    heartbeat {cpu_usage, mem_usage}     light heartbeat (usage only), answered with heartbeat_ack
    heartbeat {cpu_usage, mem_usage, tasks: [report]}   full heartbeat, as over HTTP
              either may carry gpu_usage: [{index, util, mem_used, mem_total}] (GPUs, issue 19;
              absent when the agent has no nvidia-smi; util in %, memory in MiB, null when unknown)
    report {reports: [report]}           task started / exited / lost
    logs {chunks: [chunk]}               numbered slices of a task's output (bytes as base64;
                                         docs/logs.md is the contract)
Master -> agent:
    desired {generation, node_status, draining, assignments: [assignment]}
    heartbeat_ack {generation, node_status, draining}
    heartbeat {heartbeat_interval, desired..., verdicts}   answer to a full heartbeat
    verdicts {verdicts: [verdict], desired...}             answer to reports
    log_ack {acked: [[task, attempt, seq]], stale: [[task, attempt]]}
    error {detail, frame?}                the frame (of type `frame`) was refused; the connection stays up
Over HTTP the heartbeat body is the full heartbeat without `type`, and the answer is the same
desired state and verdicts.

A report names (task, attempt) and a state: running (pid, at), exited (exit_code, reason, at,
message) or lost (message). Every answer to a report is a verdict: ok, or stale (fencing: the
attempt is not this node's any more, so the agent kills its copy).

Every number in a frame is finite and bounded: NaN, Infinity and 1e999 are refused when the text
is parsed, integers must fit in 64 bits, and nesting deeper than the decoder's recursion limit is a
refused frame (`ProtocolError`), never a crash of the connection.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum


class UpFrame(StrEnum):
    """Frames the agent sends."""

    SYNC = "sync"
    HEARTBEAT = "heartbeat"
    REPORT = "report"
    LOGS = "logs"


class DownFrame(StrEnum):
    """Frames the master sends."""

    DESIRED = "desired"
    HEARTBEAT_ACK = "heartbeat_ack"
    HEARTBEAT = "heartbeat"
    VERDICTS = "verdicts"
    LOG_ACK = "log_ack"
    ERROR = "error"


class ReportState(StrEnum):
    RUNNING = "running"
    EXITED = "exited"
    LOST = "lost"


class ExitReason(StrEnum):
    """Why the agent ended a process; an exit without a reason is the command's own."""

    TIMEOUT = "timeout"  # ran past the task's timeout
    OOM = "oom"  # over its memory request
    KILLED = "killed"  # by the agent: cancelled, requeued elsewhere, or the agent stopping


class VerdictResult(StrEnum):
    OK = "ok"
    STALE = "stale"


class Stream(StrEnum):
    STDOUT = "stdout"
    STDERR = "stderr"


# Bounds of the numbers a frame may carry (the database's column types).
MAX_TASK_ID = 2**63 - 1
MAX_ATTEMPT = 2**31 - 1
MAX_SEQ = 2**31 - 1
MAX_PID = 2**31 - 1
EXIT_CODE_RANGE = (-255, 255)
MAX_CHUNKS_PER_FRAME = 2000
MAX_REPORTS_PER_FRAME = 10_000
MAX_CHUNK_BYTES = 256 * 1024  # decoded bytes of one chunk
MAX_CHUNK_CHARS = 1024 * 1024  # text of a chunk from an agent of the previous version (`data`)
MAX_GAP_BYTES = 2**31 - 1
# A logs frame, as encoded JSON, stays under this: half of daphne's 1 MiB WebSocket message limit.
MAX_FRAME_BYTES = 512 * 1024
CHUNK_OVERHEAD_BYTES = 160  # the JSON around one chunk's base64, with room for the largest numbers
MAX_MESSAGE_CHARS = 1000
MAX_GPU_INDEX = 1023  # a device index as `nvidia-smi` numbers them, or as declared with --gpus
_MAX_INT_DIGITS = 19  # 2**63 - 1 has 19 digits

REPORT_FIELDS = ("task", "attempt", "state", "pid", "exit_code", "reason", "at", "message")
CHUNK_FIELDS = ("task", "attempt", "seq", "stream", "b64", "ts", "cont", "gap")  # or `data` for `b64` (old agents)
HEARTBEAT_FIELDS = ("cpu_usage", "mem_usage", "gpu_usage", "tasks")
GPU_USAGE_FIELDS = ("index", "util", "mem_used", "mem_total")
MAX_GPU_USAGE_ENTRIES = 64
MAX_GPU_MEMORY_MIB = 1 << 30  # a TiB-scale card is 2**20 MiB; anything near this is garbage
ASSIGNMENT_FIELDS = ("task", "attempt", "status")  # plus ASSIGNMENT_SPEC_FIELDS while the task is yet to start
ASSIGNMENT_SPEC_FIELDS = ("name", "command", "env", "timeout", "cpu", "mem", "gpu_devices")


class ProtocolError(ValueError):
    """A frame or a part of one that the protocol refuses; `field` names the part at fault."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message, self.field = message, field


# -- values ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    task: int
    attempt: int
    state: str  # a ReportState
    exit_code: int | None = None
    reason: str | None = None  # an ExitReason, for exits the agent caused
    at: float | None = None  # unix time the agent saw it happen
    message: str = ""
    pid: int | None = None

    def to_json(self) -> dict:
        """The report as sent: only the fields that carry something."""
        out: dict = {"task": self.task, "attempt": self.attempt, "state": str(self.state)}
        if self.pid is not None:
            out["pid"] = self.pid
        if self.state == ReportState.EXITED:
            out["exit_code"] = self.exit_code
            out["reason"] = None if self.reason is None else str(self.reason)
        if self.at is not None:
            out["at"] = self.at
        if self.message:
            out["message"] = self.message
        return out


@dataclass(frozen=True)
class Chunk:
    task: int
    attempt: int
    seq: int
    stream: str  # a Stream
    data: bytes
    ts: float | None  # None: refused with the rest of the chunk (the store uses its own clock)
    cont: bool = False  # continues the unterminated last line of this stream's previous chunk
    gap: int = 0  # bytes lost in this place (the agent's gap chunk, or a chunk refused here)
    refused: str = ""  # why the master refused this chunk's content (stored as a gap)


# -- builders: agent -> master -----------------------------------------------------------------


def sync() -> dict:
    return {"type": UpFrame.SYNC.value}


def heartbeat(*, cpu_usage: float | None, mem_usage: float | None, gpu_usage: list[dict] | None = None) -> dict:
    """The light heartbeat (usage only) of the WebSocket; `gpu_usage` only when the agent has it."""
    frame = {"type": UpFrame.HEARTBEAT.value, "cpu_usage": cpu_usage, "mem_usage": mem_usage}
    if gpu_usage is not None:
        frame["gpu_usage"] = gpu_usage
    return frame


def heartbeat_body(*, cpu_usage: float | None, mem_usage: float | None, reports: Iterable[Report | dict],
                   gpu_usage: list[dict] | None = None) -> dict:
    """The full heartbeat: the HTTP body (add `type` to send it over the WebSocket)."""
    body = {"cpu_usage": cpu_usage, "mem_usage": mem_usage, "tasks": [_report_json(r) for r in reports]}
    if gpu_usage is not None:
        body["gpu_usage"] = gpu_usage
    return body


def running(*, task: int, attempt: int, pid: int | None = None, at: float | None = None) -> Report:
    return Report(task=task, attempt=attempt, state=ReportState.RUNNING, pid=pid, at=at)


def exited(*, task: int, attempt: int, exit_code: int, reason: str | None = None, at: float | None = None,
           message: str = "") -> Report:
    return Report(task=task, attempt=attempt, state=ReportState.EXITED, exit_code=exit_code,
                  reason=None if reason is None else ExitReason(reason), at=at, message=message)


def lost(*, task: int, attempt: int, message: str = "", at: float | None = None) -> Report:
    return Report(task=task, attempt=attempt, state=ReportState.LOST, message=message, at=at)


def report_frame(reports: Iterable[Report | dict]) -> dict:
    return {"type": UpFrame.REPORT.value, "reports": [_report_json(r) for r in reports]}


def chunk(*, task: int, attempt: int, seq: int, stream: str, data: bytes, ts: float, cont: bool = False,
          gap: int = 0) -> dict:
    """One chunk as sent: its bytes as base64; `cont` and `gap` only when set."""
    out = {"task": task, "attempt": attempt, "seq": seq, "stream": str(stream),
           "b64": base64.b64encode(data).decode("ascii"), "ts": ts}
    if cont:
        out["cont"] = True
    if gap:
        out["gap"] = gap
    return out


def encoded_chunk_size(data_bytes: int) -> int:
    """An upper bound of what a chunk of `data_bytes` bytes adds to an encoded logs frame."""
    return 4 * ((data_bytes + 2) // 3) + CHUNK_OVERHEAD_BYTES


def logs_frame(chunks: Iterable[dict]) -> dict:
    return {"type": UpFrame.LOGS.value, "chunks": list(chunks)}


def _report_json(report: Report | dict) -> dict:
    return report.to_json() if isinstance(report, Report) else dict(report)


# -- builders: master -> agent -----------------------------------------------------------------


def assignment(*, task: int, attempt: int, status: str, spec: Mapping | None = None) -> dict:
    """One desired assignment; `spec` (name, command, env, timeout, cpu, mem, gpu_devices: the device
    indices it may see) only while it is yet to start."""
    entry = {"task": task, "attempt": attempt, "status": str(status)}
    if spec is not None:
        entry.update({name: spec[name] for name in ASSIGNMENT_SPEC_FIELDS})
    return entry


def desired_state(*, generation: int | None, node_status: str | None, draining: bool | None,
                  assignments: list[dict]) -> dict:
    """A node's desired state: the body of `desired`, and part of heartbeat and verdicts answers."""
    return {"generation": generation, "node_status": node_status, "draining": draining, "assignments": assignments}


def desired_frame(state: Mapping) -> dict:
    return {"type": DownFrame.DESIRED.value, **state}


def heartbeat_ack(*, generation: int | None, node_status: str | None, draining: bool | None) -> dict:
    return {"type": DownFrame.HEARTBEAT_ACK.value, "generation": generation, "node_status": node_status,
            "draining": draining}


def heartbeat_answer(answer: Mapping, *, heartbeat_interval: float) -> dict:
    """The answer to a full heartbeat over the WebSocket (over HTTP: the same without `type`)."""
    return {"type": DownFrame.HEARTBEAT.value, "heartbeat_interval": heartbeat_interval, **answer}


def verdict(*, task: int, attempt: int, state: str, result: str = VerdictResult.OK, detail: str | None = None) -> dict:
    out = {"task": task, "attempt": attempt, "state": str(state), "result": str(result)}
    if detail is not None:
        out["detail"] = detail
    return out


def verdicts_frame(answer: Mapping) -> dict:
    return {"type": DownFrame.VERDICTS.value, **answer}


def log_ack(*, acked: Iterable[tuple[int, int, int]], stale: Iterable[tuple[int, int]]) -> dict:
    return {"type": DownFrame.LOG_ACK.value, "acked": [list(a) for a in acked], "stale": [list(s) for s in stale]}


def error(detail: str, *, frame: str | None = None) -> dict:
    out = {"type": DownFrame.ERROR.value, "detail": detail}
    if frame is not None:
        out["frame"] = frame
    return out


# -- parsing -----------------------------------------------------------------------------------

_UP_TYPES = frozenset(kind.value for kind in UpFrame)
_STATES = frozenset(state.value for state in ReportState)
_REASONS = frozenset(reason.value for reason in ExitReason)
_STREAMS = frozenset(stream.value for stream in Stream)


def _refuse_constant(name: str) -> float:
    raise ProtocolError(f"{name} is not a number this protocol accepts (numbers must be finite)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ProtocolError(f"{text[:40]} is out of range (numbers must be finite)")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS or not -MAX_TASK_ID - 1 <= (value := int(text)) <= MAX_TASK_ID:
        raise ProtocolError(f"{text[:40]}{'...' if len(text) > 40 else ''} does not fit in 64 bits")
    return value


def loads(text: str | bytes) -> object:
    """JSON text to a value, refusing non-finite numbers, integers beyond 64 bits and nesting deeper
    than the decoder can follow: each is a ProtocolError."""
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float, parse_int=_bounded_int)
    except ProtocolError:
        raise
    except RecursionError:
        raise ProtocolError("the frame is nested too deeply") from None
    except ValueError as error:  # not JSON, or bytes that are not UTF-8
        raise ProtocolError(f"the frame is not JSON: {error}") from None


def dumps(frame: Mapping) -> str:
    """A frame as JSON text (non-finite numbers raise ValueError rather than go out as NaN)."""
    return json.dumps(frame, allow_nan=False)


def parse_up(text: str | bytes) -> tuple[UpFrame, dict]:
    """An agent's frame: its type and the whole object."""
    frame = loads(text)
    if not isinstance(frame, dict):
        raise ProtocolError("a frame must be a JSON object")
    kind = frame.get("type")
    if not isinstance(kind, str) or kind not in _UP_TYPES:
        shown = kind if isinstance(kind, str | int | float | bool | None) else type(kind).__name__
        raise ProtocolError(f"unknown frame type {shown!r}", field="type")
    return UpFrame(kind), frame


def _int(value: object, name: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ProtocolError(f"{name} must be an integer", field=name)
    if not low <= value <= high:
        raise ProtocolError(f"{name} must be between {low} and {high}", field=name)
    return value


def _number(value: object, name: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise ProtocolError(f"{name} must be a finite number", field=name)
    return float(value)


def _text(value: object, name: str, max_chars: int) -> str:
    if not isinstance(value, str):
        raise ProtocolError(f"{name} must be a string", field=name)
    if len(value) > max_chars:
        raise ProtocolError(f"{name} must be at most {max_chars} characters", field=name)
    if "\x00" in value:
        raise ProtocolError(f"{name} must not contain NUL bytes", field=name)
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ProtocolError(f"{name} must be valid Unicode (no lone surrogates)", field=name) from None
    return value


def percent(value: object, name: str) -> float | None:
    """A usage figure: a finite number from 0 to 100, or null."""
    if value is None:
        return None
    number = _number(value, name)
    if not 0 <= number <= 100:
        raise ProtocolError(f"{name} must be a percentage (0-100) or null", field=name)
    return number


def parse_usage(frame: Mapping) -> tuple[float | None, float | None]:
    """(cpu_usage, mem_usage) of a heartbeat."""
    return percent(frame.get("cpu_usage"), "cpu_usage"), percent(frame.get("mem_usage"), "mem_usage")


def parse_gpu_usage(frame: Mapping) -> list[dict] | None:
    """`gpu_usage` of a heartbeat: None when absent; else at most MAX_GPU_USAGE_ENTRIES objects
    {index, util (0-100 or null), mem_used, mem_total (MiB, or null)}, one per device index."""
    raw = frame.get("gpu_usage")
    if raw is None:
        return None
    name = "gpu_usage"
    if not isinstance(raw, list) or len(raw) > MAX_GPU_USAGE_ENTRIES:
        raise ProtocolError(f"{name} must be a list of at most {MAX_GPU_USAGE_ENTRIES} objects", field=name)
    out, seen = [], set()
    for item in raw:
        if not isinstance(item, dict) or set(item) - set(GPU_USAGE_FIELDS) or "index" not in item:
            raise ProtocolError(f"{name}: each entry is an object of {', '.join(GPU_USAGE_FIELDS)} (index required)",
                                field=name)
        try:
            index = _int(item["index"], "index", 0, MAX_GPU_INDEX)
            util = percent(item.get("util"), "util")
            memory = {key: None if item.get(key) is None else _number(item[key], key)
                      for key in ("mem_used", "mem_total")}
        except ProtocolError as error:
            raise ProtocolError(f"{name}: {error.message}", field=name) from None
        if any(value is not None and not 0 <= value <= MAX_GPU_MEMORY_MIB for value in memory.values()):
            raise ProtocolError(f"{name}: mem_used and mem_total are MiB from 0 to {MAX_GPU_MEMORY_MIB}", field=name)
        if index in seen:
            raise ProtocolError(f"{name}: device {index} given twice", field=name)
        seen.add(index)
        out.append({"index": index, "util": util, **memory})
    return out


def parse_report(raw: object) -> Report:
    if not isinstance(raw, dict):
        raise ProtocolError("a report must be an object")
    unknown = sorted(str(key) for key in raw if key not in REPORT_FIELDS)
    if unknown:
        raise ProtocolError(f"unknown field(s): {', '.join(unknown)}", field=unknown[0])
    for name in ("task", "attempt", "state"):
        if name not in raw:
            raise ProtocolError(f"{name} is required", field=name)
    state = raw["state"]
    if not isinstance(state, str) or state not in _STATES:
        raise ProtocolError(f"state must be one of {', '.join(ReportState)}", field="state")
    reason = raw.get("reason")
    if reason is not None and (not isinstance(reason, str) or reason not in _REASONS):
        raise ProtocolError(f"reason must be one of {', '.join(ExitReason)}, or null", field="reason")
    exit_code = raw.get("exit_code")
    if exit_code is not None:
        exit_code = _int(exit_code, "exit_code", *EXIT_CODE_RANGE)
    elif state == ReportState.EXITED:
        raise ProtocolError("exit_code is required when state is 'exited'", field="exit_code")
    pid, at = raw.get("pid"), raw.get("at")
    return Report(
        task=_int(raw["task"], "task", 1, MAX_TASK_ID),
        attempt=_int(raw["attempt"], "attempt", 1, MAX_ATTEMPT),
        state=ReportState(state),
        exit_code=exit_code,
        reason=None if reason is None else ExitReason(reason),
        at=None if at is None else _number(at, "at"),
        message=_text(raw.get("message", ""), "message", MAX_MESSAGE_CHARS).strip(),
        pid=None if pid is None else _int(pid, "pid", 0, MAX_PID),
    )


def parse_reports(raw: object, *, field: str = "reports") -> list[Report]:
    if not isinstance(raw, list) or len(raw) > MAX_REPORTS_PER_FRAME:
        raise ProtocolError(f"{field} must be a list of at most {MAX_REPORTS_PER_FRAME} reports", field=field)
    return [parse_report(item) for item in raw]


@dataclass(frozen=True)
class Heartbeat:
    cpu_usage: float | None
    mem_usage: float | None
    reports: list[Report]
    gpu_usage: list[dict] | None = None


def parse_heartbeat(body: Mapping) -> Heartbeat:
    """The full heartbeat (HTTP body, or a WebSocket heartbeat with `tasks`); errors name the
    top-level field (a bad report is a ProtocolError on `tasks`)."""
    unknown = sorted(str(key) for key in body if key not in (*HEARTBEAT_FIELDS, "type"))
    if unknown:
        raise ProtocolError(f"unknown field(s): {', '.join(unknown)}", field=unknown[0])
    cpu, mem = parse_usage(body)
    try:
        reports = parse_reports(body.get("tasks", []), field="tasks")
    except ProtocolError as error:
        raise ProtocolError(error.message, field="tasks") from None
    return Heartbeat(cpu_usage=cpu, mem_usage=mem, reports=reports, gpu_usage=parse_gpu_usage(body))


def parse_chunks(raw: object) -> list[Chunk]:
    """Log chunks, validated by hand: this is the hot path of the protocol.

    A chunk that cannot be placed (task, attempt, seq) refuses the frame (ProtocolError). A chunk
    that can be placed but whose content is refused (stream, data, ts, cont, gap) comes back with
    `refused` set and no data: the store records a gap in its place and acknowledges it, so the
    agent never resends it for ever."""
    if not isinstance(raw, list) or len(raw) > MAX_CHUNKS_PER_FRAME:
        raise ProtocolError(f"chunks must be a list of at most {MAX_CHUNKS_PER_FRAME}", field="chunks")
    chunks = []
    for item in raw:
        if not isinstance(item, dict):
            raise ProtocolError("each chunk must be an object", field="chunks")
        task, attempt, seq = item.get("task"), item.get("attempt"), item.get("seq")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (task, attempt, seq)):
            raise ProtocolError("task, attempt and seq must be integers", field="chunks")
        if not (1 <= task <= MAX_TASK_ID and 1 <= attempt <= MAX_ATTEMPT and 0 <= seq <= MAX_SEQ):
            raise ProtocolError("task and attempt must be positive, seq non-negative, all within range",
                                field="chunks")
        try:
            chunks.append(_chunk_content(item, task, attempt, seq))
        except ProtocolError as error:
            chunks.append(Chunk(task=task, attempt=attempt, seq=seq, stream=Stream.STDERR.value, data=b"", ts=None,
                                gap=_claimed_size(item), refused=error.message))
    return chunks


def _chunk_content(item: dict, task: int, attempt: int, seq: int) -> Chunk:
    stream, ts, cont, gap = item.get("stream"), item.get("ts"), item.get("cont", False), item.get("gap", 0)
    if not isinstance(stream, str) or stream not in _STREAMS:
        raise ProtocolError("stream must be stdout or stderr")
    if not isinstance(ts, int | float) or isinstance(ts, bool) or not math.isfinite(ts):
        raise ProtocolError("ts must be a finite number")
    if not isinstance(cont, bool):
        raise ProtocolError("cont must be a boolean")
    if not isinstance(gap, int) or isinstance(gap, bool) or not 0 <= gap <= MAX_GAP_BYTES:
        raise ProtocolError(f"gap must be an integer from 0 to {MAX_GAP_BYTES}")
    if "b64" in item:
        data = _base64(item["b64"])
    elif "data" in item:  # an agent of the previous version
        text = item["data"]
        if not isinstance(text, str) or len(text) > MAX_CHUNK_CHARS:
            raise ProtocolError(f"data must be a string of at most {MAX_CHUNK_CHARS} characters")
        data = text.encode("utf-8", errors="replace")  # lone surrogates become "?"
    else:
        raise ProtocolError("b64 is required")
    if gap and data:
        raise ProtocolError("a gap chunk carries no data")
    return Chunk(task=task, attempt=attempt, seq=seq, stream=stream, data=data, ts=float(ts), cont=cont, gap=gap)


def _base64(value: object) -> bytes:
    if not isinstance(value, str) or len(value) > encoded_chunk_size(MAX_CHUNK_BYTES):
        raise ProtocolError(f"b64 must be the base64 of at most {MAX_CHUNK_BYTES} bytes")
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError("b64 is not valid base64") from None
    if len(data) > MAX_CHUNK_BYTES:
        raise ProtocolError(f"b64 must be the base64 of at most {MAX_CHUNK_BYTES} bytes")
    return data


def _claimed_size(item: dict) -> int:
    """How many bytes a refused chunk stood for, as well as can be told."""
    gap, b64, text = item.get("gap"), item.get("b64"), item.get("data")
    if isinstance(gap, int) and not isinstance(gap, bool) and 0 < gap <= MAX_GAP_BYTES:
        return gap
    if isinstance(b64, str):
        return min(len(b64) * 3 // 4, MAX_GAP_BYTES)
    if isinstance(text, str):
        return min(len(text), MAX_GAP_BYTES)
    return 0


def line_starts(data: bytes, *, cont: bool) -> int:
    """How many lines start in a chunk (docs/logs.md): one at its first byte unless it continues the
    previous chunk's line, and one after every newline that is not its last byte."""
    if not data:
        return 0
    return data.count(b"\n") + (0 if data.endswith(b"\n") else 1) - (1 if cont else 0)
