"""The output spool on its own: how output is cut into chunks, acknowledged, bounded and
recovered after the agent dies. Real files in a temporary directory; no agent, no master."""

from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path

import pytest

from agent import protocol
from agent.spool import (
    FLUSH_AFTER,
    GIVE_UP_AFTER,
    MAX_CHUNK_BYTES,
    AttemptSpool,
    SpoolBudget,
    disk_usage,
    safe_cut,
    spooled_attempts,
)


def write(spool: AttemptSpool, stream: str, data: bytes) -> None:
    """Write as the task's process would: through its own descriptor."""
    fds = spool.task_fds()
    try:
        os.write(fds[0 if stream == "stdout" else 1], data)
    finally:
        for fd in fds:
            os.close(fd)


def raw(chunk: dict) -> bytes:
    return base64.b64decode(chunk["b64"])


def everything(spool: AttemptSpool) -> list[dict]:
    """Every unsent chunk, with its bytes as `data` (text) and `raw`."""
    return [{**chunk, "raw": raw(chunk), "data": raw(chunk).decode("utf-8", "replace")}
            for chunk in spool.unsent(1 << 40)]


def texts(spool: AttemptSpool) -> list[tuple[str, str]]:
    return [(chunk["stream"], chunk["data"]) for chunk in everything(spool)]


@pytest.fixture
def spool(tmp_path: Path) -> AttemptSpool:
    return AttemptSpool(tmp_path, 7, 1, SpoolBudget(1 << 30))


def test_safe_cut_never_splits_a_character() -> None:
    euro = "€".encode()  # three bytes
    assert safe_cut(b"ab") == 2
    assert safe_cut(b"ab" + euro) == 5
    assert safe_cut(b"ab" + euro[:1]) == 2
    assert safe_cut(b"ab" + euro[:2]) == 2
    assert safe_cut("😀".encode()[:3]) == 0


def test_complete_lines_are_cut_at_once_and_an_unterminated_one_waits_for_the_flush_interval(
        spool: AttemptSpool) -> None:
    write(spool, "stdout", b"hello\nprogress 10%")
    assert spool.cut(now=100.0) is True
    assert texts(spool) == [("stdout", "hello\n")]
    assert spool.cut(now=100.0 + FLUSH_AFTER / 2) is False
    assert spool.cut(now=100.0 + FLUSH_AFTER * 1.01) is True
    write(spool, "stdout", b"\rprogress 100%\n")
    spool.cut(now=200.0)
    chunks = everything(spool)
    assert [(c["data"], c.get("cont", False)) for c in chunks] == [
        ("hello\n", False), ("progress 10%", False), ("\rprogress 100%\n", True),
    ]


def test_one_sample_numbers_both_streams_in_one_sequence_in_the_order_written_across_samples(
        spool: AttemptSpool) -> None:
    for n in range(3):
        write(spool, "stderr", f"err {n}\n".encode())
        spool.cut(now=float(n))
        write(spool, "stdout", f"out {n}\n".encode())
        spool.cut(now=n + 0.5)
    assert texts(spool) == [(stream, f"{stream[3:]} {n}\n") for n in range(3) for stream in ("stderr", "stdout")]


def test_large_output_is_cut_after_the_last_newline_of_each_full_chunk(spool: AttemptSpool) -> None:
    line = b"x" * 99 + b"\n"
    data = line * (3 * MAX_CHUNK_BYTES // len(line) + 5)
    write(spool, "stdout", data)
    spool.cut(now=0.0)
    chunks = everything(spool)
    assert all(chunk["data"].endswith("\n") for chunk in chunks)
    assert all(len(chunk["raw"]) <= MAX_CHUNK_BYTES for chunk in chunks)
    spool.close()
    assert b"".join(chunk["raw"] for chunk in everything(spool)) == data
    assert [chunk["seq"] for chunk in spool.unsent(1 << 40)] == list(range(spool.next_seq))


def test_a_line_longer_than_a_chunk_is_split_on_a_character_boundary(spool: AttemptSpool) -> None:
    data = "€".encode() * (MAX_CHUNK_BYTES // 3 + 10)  # no newline, and 65536 is not a multiple of 3
    write(spool, "stdout", data)
    spool.close()
    chunks = everything(spool)
    assert len(chunks) == 2 and chunks[1]["cont"] is True
    assert "\ufffd" not in "".join(chunk["data"] for chunk in chunks)
    assert b"".join(chunk["raw"] for chunk in chunks) == data


def test_any_bytes_go_exactly_in_frames_below_the_limit_by_their_encoded_size(spool: AttemptSpool) -> None:
    data = os.urandom(3 * 1024 * 1024)
    write(spool, "stdout", data)
    write(spool, "stderr", "é".encode() * 300_000)
    spool.close()
    got = {"stdout": b"", "stderr": b""}
    frames = 0
    while spool.has_unsent:
        chunks = spool.unsent()
        frame = protocol.dumps(protocol.logs_frame([{"task": 7, "attempt": 1, **c} for c in chunks]))
        assert len(frame.encode()) <= protocol.MAX_FRAME_BYTES
        for chunk in protocol.parse_chunks(protocol.loads(frame)["chunks"]):
            got[chunk.stream] += chunk.data
        spool.mark_sent(chunks[-1]["seq"])
        frames += 1
    assert got == {"stdout": data, "stderr": "é".encode() * 300_000}
    assert frames < 20


def test_streams_are_kept_apart_and_numbered_in_one_sequence(spool: AttemptSpool) -> None:
    write(spool, "stdout", b"out\n")
    write(spool, "stderr", b"err\n")
    spool.close()
    chunks = everything(spool)
    assert [(c["seq"], c["stream"], c["data"]) for c in chunks] == [(0, "stdout", "out\n"), (1, "stderr", "err\n")]
    assert spool.closed


def test_acknowledged_output_leaves_the_disk_and_is_not_sent_again(spool: AttemptSpool) -> None:
    write(spool, "stdout", (b"y" * 99 + b"\n") * 20_000)  # 2 MB
    spool.close()
    held = disk_usage(spool.dir)
    chunks = spool.unsent(1 << 40)
    spool.mark_sent(chunks[-1]["seq"])
    assert not spool.has_unsent
    spool.ack([chunk["seq"] for chunk in chunks])
    assert spool.fully_acked
    assert disk_usage(spool.dir) < held / 10
    assert spool.budget.used == 0


def test_acknowledgements_out_of_order_advance_only_without_a_gap(spool: AttemptSpool) -> None:
    for n in range(3):
        write(spool, "stdout", f"{n}\n".encode())
        spool.cut(final=True)
    spool.ack([0, 2])
    assert spool.acked_through == 0
    spool.ack([1])
    assert spool.acked_through == 2


def test_rewind_sends_everything_not_acknowledged_again(spool: AttemptSpool) -> None:
    write(spool, "stdout", b"a\n")
    spool.cut(final=True)
    write(spool, "stdout", b"b\n")
    spool.cut(final=True)
    spool.mark_sent(1)
    spool.ack([0])
    spool.rewind()
    assert [chunk["data"] for chunk in everything(spool)] == ["b\n"]


def test_over_budget_the_oldest_unsent_output_is_dropped_and_says_so(tmp_path: Path) -> None:
    spool = AttemptSpool(tmp_path, 1, 1, SpoolBudget(200_000))
    write(spool, "stdout", (b"z" * 99 + b"\n") * 5_000)  # 500 kB into a 200 kB budget
    spool.close()
    chunks = everything(spool)
    markers = [chunk for chunk in chunks if "output dropped: spool full" in chunk["data"]]
    assert markers and markers[0]["seq"] == 0  # the oldest went first
    kept = sum(len(chunk["data"]) for chunk in chunks if chunk not in markers)
    assert kept <= 200_000
    assert spool.budget.used <= 200_000
    assert chunks[-1]["data"].endswith("z\n")  # the newest output is kept


def test_a_new_life_recovers_the_spool_and_cuts_what_the_process_wrote_since(tmp_path: Path) -> None:
    budget = SpoolBudget(1 << 30)
    spool = AttemptSpool(tmp_path, 3, 2, budget)
    write(spool, "stdout", b"first\n")
    spool.cut(final=True)
    write(spool, "stdout", b"second\n")
    spool.cut(final=True)
    spool.ack([0])
    write(spool, "stderr", b"written while the agent was down\n")
    with open(spool.dir / "index", "a") as index:
        index.write('{"seq": 9, "stre')  # the previous life died mid-line
    # the previous life ends without closing anything

    assert list(spooled_attempts(tmp_path)) == [(3, 2)]
    again = AttemptSpool.recover(tmp_path, 3, 2, SpoolBudget(1 << 30))
    assert again.acked_through == 0
    assert [(c["seq"], c["stream"], c["data"]) for c in everything(again)] == [
        (1, "stdout", "second\n"),
        (2, "stderr", "written while the agent was down\n"),
    ]
    assert again.closed
    assert again.budget.used == len("second\n") + len("written while the agent was down\n")
    # The torn line is gone, so a third life reads the same index.
    third = AttemptSpool.recover(tmp_path, 3, 2, SpoolBudget(1 << 30))
    assert third.next_seq == 3


def test_remove_deletes_the_attempt_and_returns_its_budget(spool: AttemptSpool) -> None:
    write(spool, "stdout", b"bye\n")
    spool.close()
    assert spool.budget.used == 4
    spool.remove()
    assert not spool.dir.exists()
    assert spool.budget.used == 0


def test_chunks_that_keep_failing_go_alone_then_as_a_gap(spool: AttemptSpool) -> None:
    for n in range(3):
        write(spool, "stdout", f"line {n}\n".encode())
        spool.cut(final=n == 2, now=float(n))
    first = spool.unsent()
    assert [c["seq"] for c in first] == [0, 1, 2]
    spool.mark_sent(2)
    spool.refused()  # the master refused the frame
    for attempt in range(GIVE_UP_AFTER):
        alone = spool.unsent()
        assert [c["seq"] for c in alone] == [0] and alone[0]["b64"], attempt
        spool.mark_sent(0)
        spool.rewind()  # the connection dropped with it in flight
    gap = spool.unsent()
    assert [(c["seq"], c["b64"], c.get("gap")) for c in gap] == [(0, "", len("line 0\n"))]
    spool.mark_sent(0)
    spool.ack([0])
    assert [c["seq"] for c in spool.unsent()] == [1]  # struck once: alone, with its bytes
    assert raw(spool.unsent()[0]) == b"line 1\n"


def test_a_new_life_keeps_continued_lines_continued(tmp_path: Path) -> None:
    spool = AttemptSpool(tmp_path, 4, 1, SpoolBudget(1 << 30))
    write(spool, "stdout", b"half a ")
    spool.cut(now=0.0)
    spool.cut(now=1.0)
    again = AttemptSpool.recover(tmp_path, 4, 1, SpoolBudget(1 << 30))
    write(again, "stdout", b"line\n")
    again.cut(final=True)
    entries = [json.loads(line) for line in (again.dir / "index").read_text().splitlines()]
    assert [(e["seq"], e["cont"], e["open"]) for e in entries] == [(0, False, True), (1, True, False)]


@pytest.mark.parametrize("first", ["stdout", "stderr"])
def test_a_late_sample_orders_the_streams_by_their_last_write(spool: AttemptSpool, first: str) -> None:
    second = "stderr" if first == "stdout" else "stdout"
    write(spool, first, b"written first\n")
    time.sleep(0.03)  # more than a kernel clock tick between the two writes
    write(spool, second, b"written second\n")
    spool.cut(now=0.0)  # one sample finds both
    chunks = everything(spool)
    assert [(c["stream"], c["data"]) for c in chunks] == [(first, "written first\n"), (second, "written second\n")]
    assert 0.02 < chunks[1]["ts"] - chunks[0]["ts"] < 1


def test_a_late_sample_keeps_the_order_of_alternating_writes_from_the_kernels_write_events(
        spool: AttemptSpool) -> None:
    for n in range(5):
        write(spool, "stdout", f"out {n}\n".encode())
        write(spool, "stderr", f"err {n}\n".encode())
    spool.cut(now=0.0)  # one sample finds all of it
    lines = [line for c in everything(spool) for line in c["data"].splitlines()]
    assert lines == [text for n in range(5) for text in (f"out {n}", f"err {n}")]
    # Write events say how the streams alternated, not how many lines each write held: one sample's
    # lines of a stream are shared evenly over its runs (exact for single-line writes, as above).
    times = [c["ts"] for c in everything(spool)]
    assert times == sorted(times)


def test_a_removed_spool_is_safe_for_a_thread_that_still_holds_it(tmp_path: Path) -> None:
    """A stale log acknowledgement removes an attempt's spool while the shipper still holds it from
    its copy of the list (issue 14, defect 4): reading its closed descriptors raised EBADF and killed
    the shipper, or, once the number was reused, read another file."""
    budget = SpoolBudget(1 << 30)
    spool = AttemptSpool(tmp_path, 1, 1, budget)
    out, err = spool.task_fds()
    os.write(out, b"secret of attempt 1\n")
    os.close(out)
    os.close(err)
    spool.cut(final=True)
    assert spool.has_unsent
    spool.remove()
    other = AttemptSpool(tmp_path, 2, 1, budget)  # likely gets the freed descriptor numbers
    out, err = other.task_fds()
    os.write(out, b"output of attempt 2\n")
    os.close(out)
    os.close(err)
    other.cut(final=True)

    assert spool.unsent(1 << 20) == []
    assert spool.chunk(0) is None
    assert not spool.has_unsent and spool.fully_acked
    assert spool.cut(final=True) is False
    spool.ack([0])
    spool.note("stderr", "late words\n")
    spool.remove()  # twice is fine
    assert [c["data"] for c in everything(other)] == ["output of attempt 2\n"]


def test_a_late_sample_after_a_pause_still_puts_a_line_on_each_side_of_the_other_stream(
        spool: AttemptSpool) -> None:
    spool.cut(now=0.0)  # an earlier sample, long before the writes
    time.sleep(0.2)
    write(spool, "stdout", b"out 6\n")
    time.sleep(0.02)
    write(spool, "stderr", b"err 6\n")
    time.sleep(0.02)
    write(spool, "stdout", b"out 7\n")
    spool.cut(now=1.0)  # late: finds out 6, err 6, out 7 (the pace-since-the-last-sample guess says 2 before)
    assert [c["data"] for c in everything(spool)] == ["out 6\n", "err 6\n", "out 7\n"]
