"""agent/protocol.py: what the agent builds, the master parses back unchanged; whatever else
arrives is a ProtocolError (answered with an error frame), never another exception."""

from __future__ import annotations

import json
import random

import pytest

from agent import protocol as p


def test_the_vocabulary_is_the_one_both_sides_speak():
    assert [s.value for s in p.ReportState] == ["running", "exited", "lost"]
    assert [r.value for r in p.ExitReason] == ["timeout", "oom", "killed"]
    assert [t.value for t in p.UpFrame] == ["sync", "heartbeat", "report", "logs"]
    assert [t.value for t in p.DownFrame] == ["desired", "heartbeat_ack", "heartbeat", "verdicts", "log_ack", "error"]
    assert [s.value for s in p.Stream] == ["stdout", "stderr"]


@pytest.mark.parametrize("report", [
    p.running(task=7, attempt=2, pid=4242, at=1700000000.25),
    p.running(task=7, attempt=1),
    p.exited(task=7, attempt=1, exit_code=0, at=1700000000.0),
    p.exited(task=7, attempt=3, exit_code=137, reason="oom", message="over 64 MiB"),
    p.exited(task=2**63 - 1, attempt=2**31 - 1, exit_code=-255, reason=p.ExitReason.KILLED),
    p.lost(task=9, attempt=1, message="The agent restarted."),
], ids=repr)
def test_a_report_the_agent_builds_is_parsed_back_unchanged_by_the_master(report):
    frame = json.loads(p.dumps(p.report_frame([report])))  # through the wire as text

    kind, parsed = p.parse_up(json.dumps(frame))

    assert kind is p.UpFrame.REPORT
    assert p.parse_reports(parsed["reports"]) == [report]
    assert set(frame["reports"][0]) <= set(p.REPORT_FIELDS)


def test_a_full_heartbeat_and_a_light_one_parse_back():
    reports = [p.running(task=1, attempt=1, pid=10), p.exited(task=2, attempt=1, exit_code=3)]
    body = p.heartbeat_body(cpu_usage=12.5, mem_usage=0, reports=reports)

    beat = p.parse_heartbeat(p.loads(p.dumps(body)))

    assert (beat.cpu_usage, beat.mem_usage, beat.reports) == (12.5, 0.0, reports)
    kind, light = p.parse_up(p.dumps(p.heartbeat(cpu_usage=None, mem_usage=99.9)))
    assert kind is p.UpFrame.HEARTBEAT and p.parse_usage(light) == (None, 99.9)


def test_log_chunks_the_agent_builds_are_parsed_back():
    payloads = [b"line 0\n", bytes(range(256)), "\u00e9".encode() * 3 + b"\xff\x00"]
    sent = [p.chunk(task=3, attempt=1, seq=seq, stream=stream, data=data, ts=1700000000 + seq, cont=seq == 2)
            for seq, (stream, data) in enumerate(zip(["stdout", "stderr", "stdout"], payloads, strict=True))]
    sent.append(p.chunk(task=3, attempt=1, seq=3, stream="stderr", data=b"", ts=1.5, gap=70000))

    kind, frame = p.parse_up(p.dumps(p.logs_frame(sent)))

    assert kind is p.UpFrame.LOGS
    parsed = p.parse_chunks(frame["chunks"])
    assert [c.data for c in parsed] == [*payloads, b""]
    assert [(c.seq, c.stream, c.ts, c.cont, c.gap, c.refused) for c in parsed] == [
        (0, "stdout", 1700000000.0, False, 0, ""), (1, "stderr", 1700000001.0, False, 0, ""),
        (2, "stdout", 1700000002.0, True, 0, ""), (3, "stderr", 1.5, False, 70000, ""),
    ]


def test_a_chunk_of_the_previous_agent_version_with_text_data_is_taken_as_its_utf8_bytes():
    [parsed] = p.parse_chunks([{"task": 1, "attempt": 1, "seq": 0, "stream": "stdout", "data": "\u00e9\n", "ts": 1}])
    assert parsed.data == "\u00e9\n".encode() and not parsed.refused


def test_the_encoded_size_bound_covers_the_largest_chunk_and_frames_fit_the_server_limit():
    data = bytes(range(256)) * (p.MAX_CHUNK_BYTES // 256)
    one = p.chunk(task=p.MAX_TASK_ID, attempt=p.MAX_ATTEMPT, seq=p.MAX_SEQ, stream="stderr", data=data,
                  ts=1.7976931348623157e308, cont=True, gap=0)
    assert len(p.dumps(one)) <= p.encoded_chunk_size(len(data))
    assert p.MAX_FRAME_BYTES < 1024 * 1024  # daphne's WebSocket message limit


def test_the_master_frames_carry_the_fields_the_agent_reads():
    spec = {"name": "n", "command": "true", "env": {}, "timeout": None, "cpu": 500, "mem": 64, "gpu_devices": [1]}
    state = p.desired_state(generation=4, node_status="ONLINE", draining=False,
                            assignments=[p.assignment(task=1, attempt=2, status="ASSIGNED", spec=spec),
                                         p.assignment(task=3, attempt=1, status="RUNNING")])
    desired = p.loads(p.dumps(p.desired_frame(state)))
    assert desired["type"] == p.DownFrame.DESIRED
    assert desired["assignments"][0] == {"task": 1, "attempt": 2, "status": "ASSIGNED", **spec}
    assert set(desired["assignments"][1]) == set(p.ASSIGNMENT_FIELDS)
    ack = p.log_ack(acked=[(1, 2, 3)], stale=[(4, 5)])
    assert p.loads(p.dumps(ack)) == {"type": "log_ack", "acked": [[1, 2, 3]], "stale": [[4, 5]]}
    verdict = p.verdict(task=1, attempt=2, state=p.ReportState.EXITED, result=p.VerdictResult.STALE, detail="x")
    assert p.loads(p.dumps(verdict)) == {"task": 1, "attempt": 2, "state": "exited", "result": "stale", "detail": "x"}
    assert p.heartbeat_ack(generation=1, node_status="ONLINE", draining=True)["type"] == "heartbeat_ack"
    assert p.error("no")["type"] == p.DownFrame.ERROR


BAD_FRAMES = [
    "[" * 100_000,
    '{"type": "heartbeat", "cpu_usage": ' + "[" * 100_000,
    '{"type": [1]}',
    '{"type": {"a": 1}}',
    '{"type": null}',
    '{"type": "shout"}',
    "[]",
    '"sync"',
    "not json",
    b"\xff\xfe",
    '{"type": "heartbeat", "cpu_usage": NaN}',
    '{"type": "heartbeat", "cpu_usage": Infinity}',
    '{"type": "heartbeat", "cpu_usage": -Infinity}',
    '{"type": "heartbeat", "cpu_usage": 1e999}',
    '{"type": "logs", "chunks": [{"task": ' + str(2**70) + "}]}",
    '{"type": "logs", "chunks": [{"task": 1, "seq": -' + str(2**64) + "}]}",
    '{"type": "logs", "chunks": [{"task": 1, "seq": ' + "9" * 5000 + "}]}",
]


@pytest.mark.parametrize("text", BAD_FRAMES, ids=lambda t: repr(t[:40]))
def test_a_malformed_frame_is_a_protocol_error(text):
    with pytest.raises(p.ProtocolError):
        p.parse_up(text)


def chunk(**fields) -> dict:
    return {"task": 1, "attempt": 1, "seq": 0, "stream": "stdout", "data": "x", "ts": 1.0, **fields}


@pytest.mark.parametrize("chunks", [
    "all", None, [1], [chunk(task=True)], [chunk(task=0)], [chunk(task=2**63)], [chunk(attempt=2**31)],
    [chunk(seq=-1)], [chunk(seq=2**31)], [chunk()] * (p.MAX_CHUNKS_PER_FRAME + 1),
], ids=lambda c: repr(c)[:50])
def test_chunks_that_cannot_be_placed_refuse_the_frame(chunks):
    with pytest.raises(p.ProtocolError):
        p.parse_chunks(chunks)


@pytest.mark.parametrize("fields", [
    {"stream": "stdin"}, {"stream": ["stdout"]}, {"stream": {"a": 1}}, {"data": "x" * (p.MAX_CHUNK_CHARS + 1)},
    {"data": 1}, {"ts": "now"}, {"ts": float("nan")}, {"ts": float("inf")}, {"ts": False},
    {"b64": "not base64!"}, {"b64": "A" * (p.encoded_chunk_size(p.MAX_CHUNK_BYTES) + 4)}, {"b64": 5},
    {"cont": "yes"}, {"gap": -1}, {"gap": 2**40}, {"gap": 3, "b64": "eA=="}, {"data": None},
], ids=lambda c: repr(c)[:50])
def test_a_chunk_whose_content_is_refused_comes_back_as_a_gap_in_its_place(fields):
    raw = {k: v for k, v in chunk(**fields).items() if v is not None}
    if "b64" in fields:
        raw.pop("data")
    [parsed] = p.parse_chunks([raw])
    assert (parsed.task, parsed.attempt, parsed.seq, parsed.data) == (1, 1, 0, b"")
    assert parsed.refused and parsed.ts is None


def test_a_lone_surrogate_in_old_text_output_is_kept_as_a_replacement_byte():
    [parsed] = p.parse_chunks(p.loads('[{"task":1,"attempt":1,"seq":0,"stream":"stdout","data":"a\\ud800b","ts":1}]'))
    assert parsed.data == b"a?b" and not parsed.refused


def report(**fields) -> dict:
    return {"task": 1, "attempt": 1, "state": "running", **fields}


@pytest.mark.parametrize("raw, field", [
    ("running", None),
    ({"attempt": 1, "state": "running"}, "task"),
    (report(attempt=0), "attempt"),
    (report(task="1"), "task"),
    (report(task=1.0), "task"),
    (report(state="sleeping"), "state"),
    (report(state=["running"]), "state"),
    (report(state="exited"), "exit_code"),
    (report(state="exited", exit_code=256), "exit_code"),
    (report(state="exited", exit_code=1, reason="bored"), "reason"),
    (report(state="exited", exit_code=1, reason=["oom"]), "reason"),
    (report(at=float("inf")), "at"),
    (report(at="noon"), "at"),
    (report(pid=-1), "pid"),
    (report(message="a\x00"), "message"),
    (report(message="\ud800"), "message"),
    (report(message="x" * 1001), "message"),
    (report(colour="red"), "colour"),
])
def test_a_bad_report_is_refused_naming_its_field(raw, field):
    with pytest.raises(p.ProtocolError) as refused:
        p.parse_report(raw)
    assert refused.value.field == field


GPU = {"index": 0, "util": 87.5, "mem_used": 31250, "mem_total": 40960}


def test_gpu_usage_travels_in_both_heartbeats_and_is_absent_without_nvidia_smi():
    body = p.heartbeat_body(cpu_usage=1.0, mem_usage=2.0, reports=[], gpu_usage=[GPU, {"index": 3, "util": None}])
    beat = p.parse_heartbeat(p.loads(p.dumps(body)))
    _, light = p.parse_up(p.dumps(p.heartbeat(cpu_usage=1.0, mem_usage=2.0, gpu_usage=[GPU])))

    assert beat.gpu_usage == [{**GPU, "mem_used": 31250.0, "mem_total": 40960.0},
                              {"index": 3, "util": None, "mem_used": None, "mem_total": None}]
    assert p.parse_gpu_usage(light) == [{**GPU, "mem_used": 31250.0, "mem_total": 40960.0}]
    assert "gpu_usage" not in p.heartbeat(cpu_usage=1.0, mem_usage=2.0)
    assert "gpu_usage" not in p.heartbeat_body(cpu_usage=1.0, mem_usage=2.0, reports=[])
    assert p.parse_heartbeat({"cpu_usage": 1.0}).gpu_usage is None
    assert len(p.parse_gpu_usage({"gpu_usage": [{"index": i} for i in range(64)]})) == 64


@pytest.mark.parametrize("body, field", [
    ({"cpu_usage": -1}, "cpu_usage"), ({"mem_usage": 100.5}, "mem_usage"), ({"cpu_usage": True}, "cpu_usage"),
    ({"cpu_usage": "50"}, "cpu_usage"), ({"tasks": "none"}, "tasks"), ({"tasks": [report(attempt=0)]}, "tasks"),
    ({"load": 1}, "load"), ({"gpu_usage": {}}, "gpu_usage"), ({"gpu_usage": [{"util": 1}]}, "gpu_usage"),
    ({"gpu_usage": [{"index": 0, "util": 101}]}, "gpu_usage"),
    ({"gpu_usage": [{"index": 0, "mem_used": -1}]}, "gpu_usage"),
    ({"gpu_usage": [{"index": 0, "util": 1e308 * 10}]}, "gpu_usage"),
    ({"gpu_usage": [{"index": 0, "fan": 1}]}, "gpu_usage"),
    ({"gpu_usage": [{"index": 0}, {"index": 0}]}, "gpu_usage"), ({"gpu_usage": [{"index": True}]}, "gpu_usage"),
    ({"gpu_usage": [{"index": i} for i in range(65)]}, "gpu_usage"),
])
def test_a_bad_heartbeat_is_refused_naming_its_field(body, field):
    with pytest.raises(p.ProtocolError) as refused:
        p.parse_heartbeat(body)
    assert refused.value.field == field


def test_the_master_never_sends_a_non_finite_number():
    with pytest.raises(ValueError):
        p.dumps({"type": "log_ack", "x": float("nan")})


def _mutations(value, rng: random.Random):
    """Values shaped like a frame, with one part replaced by something a hostile agent might send."""
    junk = [None, True, -1, 0, 2**63, 1.5, "", "x", [], {}, [1], {"a": []}, float("inf")]
    if isinstance(value, dict) and value:
        key = rng.choice(list(value))
        return {**value, key: _mutations(value[key], rng) if rng.random() < 0.5 else rng.choice(junk)}
    if isinstance(value, list) and value:
        index = rng.randrange(len(value))
        return [*value[:index], _mutations(value[index], rng), *value[index + 1:]]
    return rng.choice(junk)


def test_no_mutation_of_a_valid_frame_raises_anything_but_a_protocol_error():
    """Whatever an agent sends, the master's parsers either accept it or refuse it with a ProtocolError:
    the consumer answers that with an error frame, so no frame can close the socket with 1011."""
    rng = random.Random(15)
    frames = [
        p.report_frame([p.running(task=1, attempt=1, pid=2, at=3.0), p.exited(task=1, attempt=1, exit_code=1)]),
        p.logs_frame([p.chunk(task=1, attempt=1, seq=0, stream="stdout", data=b"x", ts=1.0)]),
        {"type": "heartbeat", **p.heartbeat_body(cpu_usage=1.0, mem_usage=2.0, reports=[p.lost(task=1, attempt=1)])},
        p.heartbeat(cpu_usage=1.0, mem_usage=2.0),
        p.heartbeat(cpu_usage=1.0, mem_usage=2.0, gpu_usage=[GPU]),
    ]
    for _ in range(3000):
        mutated = _mutations(rng.choice(frames), rng)
        try:
            text = json.dumps(mutated)  # may carry Infinity, which the parser must refuse
            kind, frame = p.parse_up(text)
            if kind is p.UpFrame.REPORT:
                p.parse_reports(frame.get("reports"))
            elif kind is p.UpFrame.LOGS:
                p.parse_chunks(frame.get("chunks"))
            elif "tasks" in frame:
                p.parse_heartbeat(frame)
            else:
                p.parse_usage(frame)
                p.parse_gpu_usage(frame)
        except p.ProtocolError:
            pass
