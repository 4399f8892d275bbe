"""Issue 22's and 18's done-when on a real cluster: any bytes stored exactly (10 MB of
/dev/urandom, 1 MB of `é`) while a bystander task's log on the same node keeps arriving, and the
merged view in write order with per-line time."""

from __future__ import annotations

import hashlib
from datetime import datetime

import pytest

from tasks.models import LogChunk
from tests.cluster import wait_for
from tests.wsclient import Subscriber, log_url

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(600)]

URANDOM = ("python3 -c \"import os, sys, hashlib\n"
           "data = os.urandom(10 * 1024 * 1024)\n"
           "sys.stdout.buffer.write(data); sys.stdout.flush()\n"
           "sys.stderr.write('sha256 ' + hashlib.sha256(data).hexdigest() + '\\n')\"")
ACCENTS = "python3 -c \"import sys; sys.stdout.buffer.write('é'.encode() * 524288)\""
BYSTANDER = "for i in $(seq 1 150); do echo tick $i; sleep 0.1; done"


def raw(cluster, task_id: int, **params) -> bytes:
    response = cluster.api.get(f"{cluster.url}/api/v1/tasks/{task_id}/logs/raw", params=params, timeout=120)
    assert response.status_code == 200
    return response.content


def test_random_bytes_and_accents_are_stored_exactly_while_a_bystander_log_arrives(cluster):
    cluster.start_agent("worker-1", cpu=2, mem=2048)
    bystander = cluster.submit(BYSTANDER, cpu=0.1, mem=32)
    watcher = Subscriber(log_url(cluster.url, bystander["id"]), cluster.token)
    wait_for(lambda: "tick 3\n" in watcher.text(), timeout=60, what="the bystander's first lines")
    flood = cluster.submit(URANDOM, cpu=0.5, mem=256)
    accents = cluster.submit(ACCENTS, cpu=0.5, mem=64)

    cluster.wait_task(flood["id"], "SUCCEEDED", timeout=120)
    cluster.wait_task(accents["id"], "SUCCEEDED", timeout=120)
    stderr = raw(cluster, flood["id"], stream="stderr").decode()
    wait_for(lambda: raw(cluster, flood["id"], stream="stderr").startswith(b"sha256 "), timeout=120,
             what="the flood's digest line stored")
    stderr = raw(cluster, flood["id"], stream="stderr").decode()
    stdout = raw(cluster, flood["id"], stream="stdout")
    assert len(stdout) == 10 * 1024 * 1024
    assert "sha256 " + hashlib.sha256(stdout).hexdigest() == stderr.strip()
    wait_for(lambda: len(raw(cluster, accents["id"])) == 2 * 524288, timeout=120, what="all of the accents")
    assert raw(cluster, accents["id"]) == "é".encode() * 524288
    assert not LogChunk.objects.filter(task_id__in=[flood["id"], accents["id"]], gap__gt=0).exists()

    # The bystander was not held back: its chunks were stored in between the flood's.
    flood_pks = LogChunk.objects.filter(task_id=flood["id"]).order_by("pk").values_list("pk", flat=True)
    first, last = flood_pks.first(), flood_pks.last()
    between = LogChunk.objects.filter(task_id=bystander["id"], pk__gt=first, pk__lt=last).count()
    flood_chunks = flood_pks.count()
    assert flood_chunks > 100
    assert between >= 1, "the bystander's output waited for the whole flood"
    cluster.wait_task(bystander["id"], "SUCCEEDED", timeout=120)
    wait_for(lambda: watcher.text() == "".join(f"tick {i}\n" for i in range(1, 151)), timeout=60,
             what="every bystander line at the subscriber", explain=watcher.text)
    watcher.close()
    # The viewer's text for the flood shows replacement characters, never fails.
    page = cluster.api.get(f"{cluster.url}/api/v1/tasks/{flood['id']}/logs", params={"tail": 1}).json()
    assert page["chunks"] and "\ufffd" in "".join(c["data"] for c in page["chunks"])


ALTERNATING = (
    "for i in $(seq 1 25); do echo out $i; sleep 0.02; echo err $i >&2; sleep 0.02; done; "
    "for i in $(seq 1 200); do echo burst-out $i; echo burst-err $i >&2; done; sleep 0.05; "
    "echo after-burst; printf 'progress 10%%'; sleep 0.2; printf '\\rprogress 100%%\\n'"
)


def test_stdout_and_stderr_are_merged_in_write_order_with_a_time_per_line(cluster):
    cluster.start_agent("worker-1")
    task = cluster.submit(ALTERNATING, cpu=0.5, mem=64)
    cluster.wait_task(task["id"], "SUCCEEDED", timeout=120)

    chunks = list(LogChunk.objects.filter(task_id=task["id"], attempt=1).order_by("seq"))
    lines: list[tuple[str, str, float]] = []  # (stream, text, ts) in merged order, continued lines joined
    open_line: dict[int, int] = {}
    for chunk in chunks:
        pieces = bytes(chunk.data).decode().split("\n")
        ends_open = pieces[-1] != ""
        if not ends_open:
            pieces.pop()
        for index, piece in enumerate(pieces):
            if index == 0 and chunk.cont:
                at = open_line[chunk.stream]
                lines[at] = (lines[at][0], lines[at][1] + piece, lines[at][2])
                continue
            lines.append(("stdout" if chunk.stream == 1 else "stderr", piece, chunk.ts))
        if ends_open:
            open_line[chunk.stream] = len(lines) - 1
    texts = [text for _, text, _ in lines]
    expected_start = [text for i in range(1, 26) for text in (f"out {i}", f"err {i}")]
    assert texts[:50] == expected_start
    burst = texts[50:450]
    assert [t for t in burst if t.startswith("burst-out")] == [f"burst-out {i}" for i in range(1, 201)]
    assert [t for t in burst if t.startswith("burst-err")] == [f"burst-err {i}" for i in range(1, 201)]
    assert texts[450:] == ["after-burst", "progress 10%\rprogress 100%"]
    assert [stream for stream, _, _ in lines[:4]] == ["stdout", "stderr", "stdout", "stderr"]
    # Per-line time: the sleeps show, and time never goes back in merged order.
    times = [ts for _, _, ts in lines]
    assert times == sorted(times)
    assert times[49] - times[0] >= 49 * 0.02 * 0.9
    assert len({round(ts, 3) for ts in times[:50]}) >= 10  # a sample late under load shares its time

    # The API numbers the same lines, and the raw download can show time and stream.
    body = cluster.api.get(f"{cluster.url}/api/v1/tasks/{task['id']}/logs").json()
    assert body["total_lines"] == len(lines)
    decorated = raw(cluster, task["id"], timestamps=1, streams=1).decode().splitlines()
    assert decorated[1].split(" ", 2)[1:] == ["stderr", "err 1"]
    when = datetime.fromisoformat(decorated[1].split(" ")[0].replace("Z", "+00:00")).timestamp()
    assert abs(when - lines[1][2]) < 0.001
