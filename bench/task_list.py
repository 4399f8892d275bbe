"""The task list over 100,000 tasks: one page of `GET /api/v1/tasks` through the whole Django view
stack (authentication, filters, serialization), per filter and pagination, timed side by side.

    .venv/bin/python bench/task_list.py [--tasks 100000] [--rounds 15] [--database-url postgres://...]

Without --database-url it uses a fresh SQLite file (the embedded default). Printed per request:
median and p90 ms of `--rounds` runs, and the rows it returned. The cursor's deep page is compared
with page-number pagination's deep page (the OFFSET walk it replaces).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import fresh_postgres, percentile  # noqa: E402


def setup(database_url: str) -> None:
    os.environ.update(DATABASE_URL=database_url, DJANGO_SECRET_KEY="bench-secret-key",
                      SCHEDULER_JOIN_TOKEN="bench-join-token-0123456789",
                      DJANGO_SETTINGS_MODULE="scheduler_site.settings", SCHEDULER_LOG_LEVEL="WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def fill(count: int) -> dict:
    """Tasks straight into the database (setup, not measured): statuses, nodes and owners mixed."""
    from django.contrib.auth.models import User
    from django.utils import timezone

    from tasks.models import Task

    users = [User.objects.create_user(username=f"user{i}", password="x") for i in range(10)]
    statuses = ["SUCCEEDED"] * 80 + ["FAILED"] * 12 + ["CANCELLED"] * 5 + ["RUNNING"] * 2 + ["PENDING"]
    now = timezone.now()
    batch = []
    for i in range(count):
        kind = ("backup", "report", "train", "etl", "render")[i % 5]
        batch.append(Task(
            name=f"{kind}-{i}", command=f"python3 /opt/jobs/{kind}.py --shard {i % 97} --date 2026-11-{i % 28 + 1:02d}",
            cpu=1000, mem=256, status=statuses[i % len(statuses)], node_name=f"node-{i % 50:02d}",
            submitter=users[i % len(users)], attempt=1, created_at=now, updated_at=now,
        ))
        if len(batch) == 5000:
            Task.objects.bulk_create(batch)
            batch = []
    Task.objects.bulk_create(batch)
    ids = sorted(Task.objects.values_list("id", flat=True))
    return {"user": users[0], "middle": ids[len(ids) // 2]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--sqlite", default="", help="SQLite file to use; filled once, reused when it holds the tasks")
    args = parser.parse_args()
    if args.database_url:
        url = fresh_postgres(args.database_url)
    else:
        url = f"sqlite:///{args.sqlite or tempfile.mkdtemp(prefix='bench-list-') + '/db.sqlite3'}"
    setup(url)
    t0 = time.perf_counter()
    from tasks.models import Task

    if Task.objects.count() == args.tasks:
        from django.contrib.auth.models import User

        ids = sorted(Task.objects.values_list("id", flat=True))
        marks = {"user": User.objects.get(username="user0"), "middle": ids[len(ids) // 2]}
    else:
        marks = fill(args.tasks)
    print(f"# {args.tasks:,} tasks in {url.split(':')[0]} (setup {time.perf_counter() - t0:.1f} s); "
          f"page size 200; median / p90 of {args.rounds} rounds")

    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(marks["user"])
    deep_page = args.tasks // 2 // 200
    requests = [
        ("first page, cursor", {"cursor": "", "page_size": 200}),
        ("first page, page number (count)", {"page": 1, "page_size": 200}),
        (f"deep page (row ~{args.tasks // 2:,}), cursor", {"cursor": str(marks["middle"]), "page_size": 200}),
        (f"deep page {deep_page:,}, page number (OFFSET)", {"page": deep_page, "page_size": 200}),
        ("status=FAILED, cursor", {"cursor": "", "page_size": 200, "status": "FAILED"}),
        ("status=PENDING (1 %), cursor", {"cursor": "", "page_size": 200, "status": "PENDING"}),
        ("node=node-07, cursor", {"cursor": "", "page_size": 200, "node": "node-07"}),
        ("owner=user3, cursor", {"cursor": "", "page_size": 200, "owner": "user3"}),
        ("q=report (20 % match), cursor", {"cursor": "", "page_size": 200, "q": "report"}),
        ("q=--shard 42 (1 % match), cursor", {"cursor": "", "page_size": 200, "q": "--shard 42 "}),
        ("q=no-such-text (full scan), cursor", {"cursor": "", "page_size": 200, "q": "no-such-text"}),
        ("q + owner + status, cursor", {"cursor": "", "page_size": 200, "q": "train", "owner": "user2",
                                        "status": "SUCCEEDED"}),
    ]
    print(f"{'request':<44} {'median ms':>10} {'p90 ms':>8} {'rows':>6}")
    figures = {}
    for name, params in requests:
        times, rows = [], 0
        for _ in range(args.rounds):
            start = time.perf_counter()
            response = client.get("/api/v1/tasks", params)
            times.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, response.content[:300]
            rows = len(response.json()["results"])
        figures[name] = statistics.median(times)
        print(f"{name:<44} {statistics.median(times):>10.1f} {percentile(times, 90):>8.1f} {rows:>6}")
    cursor = figures[f"deep page (row ~{args.tasks // 2:,}), cursor"]
    offset = figures[f"deep page {deep_page:,}, page number (OFFSET)"]
    print(f"deep page: cursor {cursor:.1f} ms vs page number {offset:.1f} ms ({offset / cursor:.1f}x)")


if __name__ == "__main__":
    main()
