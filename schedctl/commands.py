"""The subcommands: parse arguments, call the API, print."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import random
import sys
import time
from collections.abc import Callable
from typing import TypeVar

from schedctl import batch, config
from schedctl.api import Api, CliError, StreamLost

TERMINAL = {"SUCCEEDED", "FAILED", "CANCELLED"}
FOLLOW_GIVE_UP = 300.0  # seconds without reaching the master while following a log
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for `cat` when its reader went away
COMMAND_WIDTH = 50
T = TypeVar("T")


def exit_code_of(task: dict) -> int:
    """What `submit --follow` and `logs --follow` exit with, like srun: 0 when the task
    SUCCEEDED; else its process's exit code (128+N for signal N, e.g. 143 for a cancelled task
    stopped by SIGTERM); 1 when it ended without one of its own (lost, attempts used up, or
    cancelled before it ran)."""
    if task["status"] == "SUCCEEDED":
        return 0
    code = task.get("exit_code")
    return code if isinstance(code, int) and 0 < code < 256 else 1


def one_line(text: str, width: int = COMMAND_WIDTH) -> str:
    """A command as one table cell: its first line, control characters escaped, cut to `width`
    with an ellipsis when there is more."""
    lines = text.strip(" \n").split("\n")  # not splitlines(): a lone \r is shown, not taken for a line end
    first = "".join(c if c.isprintable() else repr(c)[1:-1] for c in lines[0])
    if len(lines) > 1 or len(first) > width:
        return first[: width - 2].rstrip() + " …"
    return first


def _table(rows: list[dict], columns: list[tuple[str, str]]) -> str:
    cells = [[title for title, _ in columns]] + [
        ["" if row.get(key) is None else str(row.get(key)) for _, key in columns] for row in rows
    ]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
                     for line in cells)


def _labels(raw: list[str], option: str = "--selector") -> dict[str, str]:
    labels = {}
    for item in raw:
        key, sep, value = item.partition("=")
        if not sep:
            raise CliError(f"{option} {item!r}: expected key=value")
        labels[key] = value
    return labels


def _count(name: str, raw: str) -> int:
    if not raw.strip().isdigit():
        raise CliError(f"--resource {name}={raw}: the count must be a whole number")
    return int(raw)


def _node_id(api: Api, name_or_id: str) -> int:
    if name_or_id.isdigit():
        return int(name_or_id)
    nodes = api.get("/api/v1/nodes", page_size=1000)["results"]
    for node in nodes:
        if node["name"] == name_or_id:
            return node["id"]
    raise CliError(f"no node named {name_or_id!r}")


def cmd_login(api: Api, args) -> int:
    username = args.username or input("username: ")
    password = getpass.getpass("password: ") if args.password is None else args.password
    token = api.request("POST", "/api/v1/auth/token", json={"username": username, "password": password})["token"]
    path = config.save(config.Settings(url=api.url, token=token))
    print(f"signed in to {api.url} as {username}; token saved in {path}")
    return 0


def _task_body(args) -> dict:
    command = " ".join(args.command).strip()
    if not command:
        raise CliError("nothing to run: put the command after --, e.g. submit -- echo hello")
    body: dict = {"command": command, "cpu": args.cpu, "mem": args.mem, "priority": args.priority,
                  "max_attempts": args.max_attempts}
    if args.name:
        body["name"] = args.name
    if args.timeout is not None:
        body["timeout"] = args.timeout
    if args.selector:
        body["node_selector"] = _labels(args.selector)
    if args.env:
        body["env"] = _labels(args.env, "--env")
    if args.gpus:
        body["gpu"] = args.gpus
    if args.resource:
        body["resources"] = {key: _count(key, value) for key, value in _labels(args.resource, "--resource").items()}
    # batch workloads (issue 16)
    if args.retries is not None:
        body["retries"] = args.retries
    if args.retry_backoff is not None:
        body["retry_backoff"] = args.retry_backoff
    if args.dependency:
        body["dependency"], body["depends_on"] = batch.parse_dependency(args.dependency)
    if args.array:
        body["array"] = args.array
    return body


def cmd_submit(api: Api, args) -> int:
    if args.file:
        return _submit_file(api, args)
    body = _task_body(args)
    if "array" in body:
        created = api.post_once("/api/v1/tasks", body)
        if args.json:
            print(json.dumps(created))
        else:
            print(f"array {created['array']['id']}: {created['array']['size']} tasks "
                  f"{created['tasks'][0]['id']}-{created['tasks'][-1]['id']}")
        return 0
    task = api.post_once("/api/v1/tasks", body)
    if args.json:
        print(json.dumps(task))
    else:
        print(f"task {task['id']} {task['status']}")
    if args.follow:
        return cmd_logs(api, argparse.Namespace(task=task["id"], follow=True, attempt=None))
    return 0


def _submit_file(api: Api, args) -> int:
    """`submit -f job.yaml`: every task of the file in one request; local names resolved there."""
    if args.command:
        raise CliError("give either -f FILE or a command after --, not both")
    created = api.post("/api/v1/tasks", batch.load_spec_file(args.file))["results"]
    if args.json:
        print(json.dumps(created))
        return 0
    for one in created:
        if "array" in one:
            print(f"array {one['array']['id']}: {one['array']['size']} tasks "
                  f"{one['tasks'][0]['id']}-{one['tasks'][-1]['id']}")
        else:
            print(f"task {one['id']} {one['status']}" + (f" ({one['name']})" if one["name"] else ""))
    return 0


def cmd_array(api: Api, args) -> int:
    array = api.get(f"/api/v1/arrays/{args.array}")
    print(json.dumps(array) if args.json else batch.array_counts_line(array))
    return 0


def cmd_plan(api: Api, args) -> int:
    body = _task_body(args)
    body.pop("array", None)
    plan = api.post("/api/v1/tasks/plan", body)
    print(json.dumps(plan) if args.json else "\n".join(batch.plan_lines(plan)))
    return 0 if plan["placeable"] else 1


def cmd_tasks(api: Api, args) -> int:
    page = api.get("/api/v1/tasks", status=args.status, node=args.node, owner=args.owner, page_size=args.limit,
                   array=args.array)
    if args.json:
        print(json.dumps(page))
        return 0
    rows = [{**t, "cpu": f"{t['cpu']:g}", "command": one_line(t["command"]), "name": one_line(t["name"], 40)}
            for t in page["results"]]
    print(_table(rows, [("ID", "id"), ("NAME", "name"), ("OWNER", "owner"), ("STATUS", "status"),
                        ("NODE", "node_name"), ("TRY", "attempt"), ("CPU", "cpu"), ("MEM", "mem"),
                        ("EXIT", "exit_code"), ("COMMAND", "command")]))
    if page["count"] > len(rows):
        print(f"({len(rows)} of {page['count']}; --limit shows more)")
    return 0


def cmd_show(api: Api, args) -> int:
    task = api.get(f"/api/v1/tasks/{args.task}")
    if args.json:
        print(json.dumps(task))
        return 0
    for key in ("id", "name", "owner", "status", "status_reason", "status_message", "node_name", "attempt",
                "max_attempts", "cpu", "mem", "priority", "timeout", "exit_code", "created_at", "started_at",
                "finished_at"):
        print(f"{key:15} {task.get(key) if task.get(key) is not None else ''}")
    if task.get("gpu"):
        devices = ",".join(str(index) for index in task.get("gpu_devices") or [])
        print(f"{'gpu':15} {task['gpu']}" + (f" (devices {devices})" if devices else ""))
    print(f"{'command':15} {task['command']}")
    if task.get("queue"):
        print(f"{'queue':15} {task['queue']['text']}")
    if task.get("env"):  # values masked by the master unless you own the task or are an operator
        print(f"{'env':15} {' '.join(f'{k}={v}' for k, v in task['env'].items())}")
    print("\nEVENTS")
    print(_table(task["events"], [("TIME", "time"), ("TRY", "attempt"), ("TO", "to_status"), ("NODE", "node_name"),
                                  ("REASON", "reason"), ("MESSAGE", "message")]))
    return 0


def cmd_cancel(api: Api, args) -> int:
    """Cancel each task named (or every unfinished task of --array); one line for each; exit 1
    when any could not be cancelled."""
    if args.array is not None:
        if args.tasks:
            raise CliError("give either task ids or --array, not both")
        print(batch.array_counts_line(api.post(f"/api/v1/arrays/{args.array}/cancel")))
        return 0
    if not args.tasks:
        raise CliError("nothing to cancel: give task ids or --array ID")
    failed = 0
    for task_id in args.tasks:
        try:
            task = api.post(f"/api/v1/tasks/{task_id}/cancel")
        except CliError as error:
            print(f"schedctl: task {task_id}: {error}", file=sys.stderr)
            failed += 1
            continue
        print(f"task {task['id']} {task['status']}")
    return 1 if failed else 0


# -- many users (issue 17): who am I, quotas ------------------------------------------------------


def cmd_whoami(api: Api, args) -> int:
    me = api.get("/api/v1/auth/me")
    mine = api.get("/api/v1/quotas/me")
    if args.json:
        print(json.dumps({**me, "groups": mine["groups"], "recent_usage": mine["recent_usage"]}))
        return 0
    if not me.get("authenticated"):
        raise CliError("not signed in")
    roles = [name for name, allowed in me.get("permissions", {}).items() if allowed]
    print(f"{me['username']}{' (staff)' if me.get('is_staff') else ''}")
    print(f"groups:        {', '.join(mine['groups']) or '-'}")
    print(f"may:           {', '.join(roles) or 'read only'}")
    print(f"recent usage:  {mine['recent_usage']:.0f} cpu-s (half-life {mine['half_life']:g} s)")
    return 0


def _limits(quota: dict, keys: list[str]) -> str:
    shown = [f"{key} {quota['used'][key]:g}/{quota[key]:g}" for key in keys if quota.get(key) is not None]
    return ", ".join(shown) or "no limits"


def cmd_quota_show(api: Api, args) -> int:
    """The quotas over me (or, with --all, every quota) with what they use now."""
    quotas = api.get("/api/v1/quotas")["results"] if args.all else api.get("/api/v1/quotas/me")["quotas"]
    if args.json:
        print(json.dumps(quotas))
        return 0
    if not quotas:
        print("no quota applies" if not args.all else "no quotas")
        return 0
    for quota in quotas:
        keys = [key for key in quota if key not in ("id", "user", "group", "holder", "used")]
        print(f"{quota['holder']}: {_limits(quota, keys)}")
    return 0


def _print_chunk(chunk: dict) -> None:
    stream = sys.stderr if chunk["stream"] == "stderr" else sys.stdout
    stream.write(chunk["data"])
    stream.flush()


class _Reconnect:
    """Exponential backoff with full jitter while the master cannot be reached; gives up after
    FOLLOW_GIVE_UP seconds of failing."""

    def __init__(self) -> None:
        self.failures, self.since = 0, None

    def ok(self) -> None:
        self.failures, self.since = 0, None

    def wait(self, error: Exception, *, after: int) -> None:
        now = time.monotonic()
        if self.since is None:
            self.since = now
            print(f"schedctl: {error}; resuming after sequence {after} once the master answers", file=sys.stderr)
        elif now - self.since > FOLLOW_GIVE_UP:
            raise CliError(f"gave up following: the master did not answer for {FOLLOW_GIVE_UP:g}s ({error})")
        ceiling = min(5.0, 0.2 * 2**self.failures)
        self.failures += 1
        time.sleep(random.uniform(ceiling / 2, ceiling))


def _retrying(call: Callable[[], T], reconnect: _Reconnect, *, after: int) -> T:
    while True:
        try:
            result = call()
        except StreamLost as error:
            reconnect.wait(error, after=after)
            continue
        except CliError as error:
            if "cannot reach the master" not in str(error):
                raise
            reconnect.wait(error, after=after)
            continue
        reconnect.ok()
        return result


def cmd_logs(api: Api, args) -> int:
    """The output so far; with --follow, live output until the task ends, through master restarts
    (each reconnect resumes after the last sequence printed, so every line shows once), then exit
    with the task's exit code (`exit_code_of`)."""
    if getattr(args, "search", None):
        return _search_logs(api, args)
    if not args.follow:
        if getattr(args, "tail", None) is not None:
            return _tail_logs(api, args)
        params = {"attempt": args.attempt or None, "stream": getattr(args, "stream", None),
                  "timestamps": 1 if getattr(args, "timestamps", False) else None,
                  "streams": 1 if getattr(args, "streams", False) else None}
        query = "&".join(f"{k}={v}" for k, v in params.items() if v is not None)
        # Invalid UTF-8 in the output shows as U+FFFD here; the raw download keeps the bytes.
        sys.stdout.write(api.request("GET", f"/api/v1/tasks/{args.task}/logs/raw" + (f"?{query}" if query else "")))
        return 0
    reconnect = _Reconnect()
    task = _retrying(lambda: api.get(f"/api/v1/tasks/{args.task}"), reconnect, after=-1)
    pinned = args.attempt is not None
    attempt: int | None = args.attempt if pinned else (task["attempt"] or None)
    after, status = -1, task["status"]

    def newer_attempt(number: int | None) -> bool:
        """Follow a newer attempt (unless one was asked for); say so when it replaces another."""
        nonlocal attempt, after
        if pinned or not number or (attempt is not None and number <= attempt):
            return False
        if attempt is not None:
            print(f"--- attempt {number} ---", file=sys.stderr)
        attempt, after = number, -1
        return True

    while status not in TERMINAL:
        asked = attempt  # the stream follows this attempt only; None: the newest, as they come
        try:
            for frame in api.follow(args.task, attempt=asked, after=after):
                reconnect.ok()
                kind = frame.get("type")
                if kind == "log":
                    if attempt is None:
                        attempt = frame["attempt"]
                    if frame["attempt"] == attempt and frame["seq"] > after:
                        after = frame["seq"]
                        _print_chunk(frame)
                elif kind in ("attempt", "status"):
                    status = frame.get("status", status)
                    if newer_attempt(frame.get("attempt")) and asked is not None:
                        break  # this stream stays on the old attempt: open one on the new
                    if status in TERMINAL:
                        break
        except StreamLost as error:
            reconnect.wait(error, after=after)
            continue
        if status not in TERMINAL:  # the master closed the stream first: it is going away
            reconnect.wait(StreamLost("the master closed the log stream"), after=after)
    # The task ended: anything the stream had not delivered yet is stored; take it from the API.
    while attempt:
        rest = _retrying(lambda after=after: api.get(f"/api/v1/tasks/{args.task}/logs", attempt=attempt,
                                                     after=after, limit=5000), reconnect, after=after)
        for chunk in rest["chunks"]:
            if chunk["seq"] > after:
                _print_chunk(chunk)
        after = rest["next_after"]
        if not rest["more"]:
            break
    task = _retrying(lambda: api.get(f"/api/v1/tasks/{args.task}"), reconnect, after=after)
    print(f"--- task {args.task} {task['status']} (exit code {task['exit_code']}) ---", file=sys.stderr)
    return exit_code_of(task)


def _tail_logs(api: Api, args) -> int:
    """The last N lines: the page holding line (total - N), then the pages after it."""
    first = api.get(f"/api/v1/tasks/{args.task}/logs", attempt=args.attempt, tail=1, limit=1)
    start = max(0, first["total_lines"] - args.tail)
    page = api.get(f"/api/v1/tasks/{args.task}/logs", attempt=first["attempt"], line=start, limit=5000)
    lines = _chunk_lines(page["chunks"])
    after = page["last_seq"]
    while page["more"] and after is not None:
        page = api.get(f"/api/v1/tasks/{args.task}/logs", attempt=first["attempt"], after=after, limit=5000)
        lines += _chunk_lines(page["chunks"])
        after = page["next_after"]
        if not page["more"]:
            break
    for number, stream, text in lines:
        if number >= start:
            (sys.stderr if stream == "stderr" else sys.stdout).write(text + "\n")
    return 0


def _chunk_lines(chunks: list[dict]) -> list[tuple[int, str, str]]:
    """(line number, stream, text) of the lines that start in `chunks`, continued lines joined."""
    lines: list[list] = []
    open_line: dict[str, int] = {}
    for chunk in chunks:
        pieces = chunk["data"].split("\n")
        ends_open = pieces[-1] != ""
        if not ends_open:
            pieces.pop()
        number = chunk["line"]
        for index, piece in enumerate(pieces):
            if index == 0 and chunk["cont"]:
                if chunk["stream"] in open_line:
                    lines[open_line[chunk["stream"]]][2] += piece
                continue
            lines.append([number, chunk["stream"], piece])
            number += 1
        if ends_open and lines:
            open_line[chunk["stream"]] = len(lines) - 1
    return [tuple(line) for line in lines]


def _search_logs(api: Api, args) -> int:
    """Matching lines of the whole log (every attempt unless --attempt): ATTEMPT:LINE:STREAM: text
    (line numbers from 1, as the dashboard shows them); exit 1 when nothing matches."""
    offset, total = 0, None
    while total is None or offset < total:
        page = api.get(f"/api/v1/tasks/{args.task}/logs/search", q=args.search, regex=1 if args.regex else None,
                       attempt=args.attempt, stream=getattr(args, "stream", None), offset=offset, limit=1000)
        total = page["total"]
        for match in page["matches"]:
            print(f"{match['attempt']}:{match['line'] + 1}:{match['stream']}: {match['text']}")
        if not page["matches"]:
            break
        offset += len(page["matches"])
    if not page.get("complete", True):
        print("(search stopped at its time limit: the log was not searched to its end)", file=sys.stderr)
    return 0 if total else 1


def cmd_nodes(api: Api, args) -> int:
    page = api.get("/api/v1/nodes", status=args.status, page_size=1000)
    if args.json:
        print(json.dumps(page))
        return 0
    rows = [{**n, "status": n["status"] + (" draining" if n["draining"] else ""),
             "cpu": f"{n['cpu_allocated']:g}/{n['cpu']:g}", "mem": f"{n['mem_allocated']}/{n['mem']}",
             "gpu": f"{n['gpu_allocated']}/{n['gpu']}" if n.get("gpu") else "-",
             "usage": "" if n["cpu_usage"] is None else f"{n['cpu_usage']:.0f}% cpu {n['mem_usage']:.0f}% mem",
             "labels": ",".join(f"{k}={v}" for k, v in n["labels"].items())} for n in page["results"]]
    print(_table(rows, [("NAME", "name"), ("STATUS", "status"), ("CPU", "cpu"), ("MEM (MiB)", "mem"), ("GPU", "gpu"),
                        ("TASKS", "tasks_running"), ("USAGE", "usage"), ("LABELS", "labels")]))
    return 0


def cmd_drain(api: Api, args) -> int:
    verb = "drain" if args.action == "drain" else "undrain"
    node = api.post(f"/api/v1/nodes/{_node_id(api, args.node)}/{verb}")
    print(f"node {node['name']} {'draining' if node['draining'] else 'schedulable'}")
    return 0


def _task_options(parser: argparse.ArgumentParser) -> None:
    """What a task asks for: shared by submit and plan."""
    parser.add_argument("--cpu", type=float, default=1.0, help="cores (fractions allowed)")
    parser.add_argument("--mem", type=int, default=256, help="MiB")
    parser.add_argument("--name", default="")
    parser.add_argument("--priority", type=int, default=0)
    parser.add_argument("--max-attempts", type=int, default=3, help="attempts lost to infrastructure")
    parser.add_argument("--timeout", type=float, default=None, help="seconds")
    parser.add_argument("--selector", action="append", default=[], help="node label key=value (repeatable)")
    parser.add_argument("--env", action="append", default=[], help="KEY=value (repeatable)")
    parser.add_argument("--gpus", type=int, default=0, help="whole GPUs; the task sees only the devices it is given")
    parser.add_argument("--resource", action="append", default=[], metavar="NAME=COUNT",
                        help="a named resource some node offers, e.g. matlab=1 (repeatable)")
    # batch workloads (issue 16)
    parser.add_argument("--retries", type=int, default=None, help="extra attempts after the command fails")
    parser.add_argument("--retry-backoff", type=float, default=None,
                        help="seconds before the first retry (doubles each retry; default 10)")
    parser.add_argument("--dependency", "-d", default=None,
                        help="Slurm's spelling: afterok:12:13, afterany:12, afternotok:12")
    parser.add_argument("--array", "-a", default=None, help='e.g. 0-99, 1,3,7, 0-999%%20 (at most 20 at once)')


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="schedctl", description="mini-scheduler command-line client")
    parser.add_argument("--master", help="master URL (SCHEDULER_URL; default from the config file)")
    parser.add_argument("--token", help="API token (SCHEDULER_TOKEN; default from the config file)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    sub = parser.add_subparsers(dest="cmd", required=True)

    login = sub.add_parser("login", help="get a token with username and password and save it")
    login.add_argument("--username")
    login.add_argument("--password", help="(asked for when absent)")
    login.set_defaults(func=cmd_login, needs_token=False)

    submit = sub.add_parser("submit", help="submit a task: submit [options] -- command..., or -f job.yaml")
    _task_options(submit)
    submit.add_argument("--file", "-f", dest="file", default=None,
                        help="a YAML or JSON spec file (- for stdin): one task, a list, or several documents; "
                             "depends_on may name another task of the file")
    submit.add_argument("--follow", action="store_true",
                        help="then follow its output and exit with its exit code, like srun")
    submit.add_argument("command", nargs=argparse.REMAINDER)
    submit.set_defaults(func=cmd_submit)

    plan = sub.add_parser("plan", help="dry run: where a task would go now, and why not elsewhere")
    _task_options(plan)
    plan.add_argument("command", nargs=argparse.REMAINDER)
    plan.set_defaults(func=cmd_plan)

    array = sub.add_parser("array", help="an array's size, limit and tasks per status")
    array.add_argument("array", type=int, metavar="ID")
    array.set_defaults(func=cmd_array)

    tasks = sub.add_parser("tasks", help="list tasks, newest first")
    tasks.add_argument("--status", help="e.g. RUNNING or PENDING,ASSIGNED")
    tasks.add_argument("--node")
    tasks.add_argument("--limit", type=int, default=50)
    tasks.add_argument("--array", type=int, default=None, help="the tasks of this array")
    tasks.add_argument("--user", "--owner", dest="owner", help="only this user's tasks (`me` for yours)")
    tasks.set_defaults(func=cmd_tasks)

    whoami = sub.add_parser("whoami", help="who the token belongs to, groups, rights, recent usage")
    whoami.set_defaults(func=cmd_whoami)
    quota = sub.add_parser("quota", help="quotas: quota show [--all]")
    quota_sub = quota.add_subparsers(dest="quota_cmd", required=True)
    quota_show = quota_sub.add_parser("show", help="the quotas over you (or --all) and their usage")
    quota_show.add_argument("--all", action="store_true", help="every quota of the cluster")
    quota_show.set_defaults(func=cmd_quota_show)

    show = sub.add_parser("show", help="a task with its events")
    show.add_argument("task", type=int)
    show.set_defaults(func=cmd_show)

    cancel = sub.add_parser("cancel", help="cancel tasks: cancel ID [ID ...], or cancel --array ID")
    cancel.add_argument("tasks", type=int, nargs="*", metavar="ID")
    cancel.add_argument("--array", type=int, default=None, metavar="ID", help="every unfinished task of this array")
    cancel.set_defaults(func=cmd_cancel)

    logs = sub.add_parser("logs", help="print a task's output")
    logs.add_argument("task", type=int)
    logs.add_argument("--follow", "-f", action="store_true",
                      help="stream live output until the task ends, then exit with its exit code")
    logs.add_argument("--attempt", type=int, default=None)
    logs.add_argument("--timestamps", "-t", action="store_true", help="start each line with its time (UTC)")
    logs.add_argument("--streams", action="store_true", help="start each line with its stream")
    logs.add_argument("--stream", choices=["stdout", "stderr"], default=None, help="one stream only")
    logs.add_argument("--tail", "-n", type=int, default=None, metavar="N", help="the last N lines only")
    logs.add_argument("--search", "-s", default=None, metavar="TEXT",
                      help="print the matching lines of the whole log (case-insensitive)")
    logs.add_argument("--regex", "-E", action="store_true", help="--search TEXT is a regular expression")
    logs.set_defaults(func=cmd_logs)

    nodes = sub.add_parser("nodes", help="list nodes")
    nodes.add_argument("--status")
    nodes.set_defaults(func=cmd_nodes)

    for action in ("drain", "undrain"):
        command = sub.add_parser(action, help=f"{action} a node (name or id)")
        command.add_argument("node")
        command.set_defaults(func=cmd_drain, action=action)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "command", None) and args.command[:1] == ["--"]:
        args.command = args.command[1:]
    settings = config.load(url=args.master, token=args.token)
    if getattr(args, "needs_token", True) and not settings.token:
        print("schedctl: no token: run `python -m schedctl login` or set SCHEDULER_TOKEN", file=sys.stderr)
        return 2
    try:
        code = args.func(Api(settings.url, settings.token), args)
        sys.stdout.flush()
        return code
    except CliError as error:
        print(f"schedctl: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `schedctl tasks | head -1`: the reader has what it wanted
        _discard_stdout()
        return EXIT_BROKEN_PIPE


def _discard_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush finds no closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
