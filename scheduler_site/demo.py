"""`make demo` / `python manage.py demo`: a whole local cluster on one machine.

Migrates an embedded SQLite store, creates an admin login, starts the master (daphne), the
sweeper and three agents of different sizes, waits until the nodes are ONLINE, and prints the
URL and the login. Ctrl-C stops everything. Secrets are generated once into DATA_DIR/demo.env.

Machine-readable: one line `READY {"url", "username", "password", "agents": {name: pid}, ...}` on
stdout when the cluster is up (the end-to-end tests read it).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
AGENTS = (("small", "1", "1024"), ("medium", "2", "4096"), ("large", "4", "8192"))
FAST_TIMERS = {"SCHEDULER_HEARTBEAT_INTERVAL": "0.5", "SCHEDULER_UNHEALTHY_AFTER": "1.5",
               "SCHEDULER_OFFLINE_AFTER": "3", "SCHEDULER_SWEEP_INTERVAL": "0.25", "SCHEDULER_KILL_GRACE": "2"}


def _secrets(data_dir: Path) -> dict[str, str]:
    path = data_dir / "demo.env"
    values = {}
    if path.exists():
        values = dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    for key, size in (("DJANGO_SECRET_KEY", 48), ("SCHEDULER_JOIN_TOKEN", 32), ("DEMO_ADMIN_PASSWORD", 12)):
        values.setdefault(key, secrets.token_urlsafe(size))
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    path.chmod(0o600)
    return values


def _wait_http(url: str, *, timeout: float, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the master exited with code {process.returncode}; see its log")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not answer within {timeout:g}s")


def _wait_nodes(base: str, token: str, names: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            nodes = requests.get(f"{base}/api/v1/nodes?page_size=1000", timeout=2,
                                 headers={"Authorization": f"Token {token}"}).json()["results"]
            online = {n["name"] for n in nodes if n["status"] == "ONLINE"}
            if set(names) <= online:
                return
        except (requests.RequestException, KeyError, ValueError):
            pass
        time.sleep(0.1)
    raise SystemExit(f"the agents {names} did not come ONLINE within {timeout:g}s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="manage.py demo", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--data-dir", default=str(ROOT / "var" / "demo"))
    parser.add_argument("--fast-timers", action="store_true", help="heartbeat 0.5 s, unhealthy 1.5 s, offline 3 s")
    parser.add_argument("--no-browser-build", action="store_true", help="accepted for the e2e tests; the "
                        "dashboard is built by `make demo`, not here")
    parser.add_argument("--database-url", default=None, help="default: SQLite in DATA_DIR")
    parser.add_argument("--redis-url", default=None, help="default: the in-memory channel layer")
    parser.add_argument("--agents", default=",".join(":".join(a) for a in AGENTS),
                        help="NAME:CORES:MIB,... (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        agents = [tuple(spec.split(":")) for spec in args.agents.split(",") if spec]
        assert all(len(agent) == 3 for agent in agents)
    except AssertionError:
        parser.error("--agents: expected NAME:CORES:MIB,...")

    data_dir = Path(args.data_dir).resolve()
    (data_dir / "logs").mkdir(parents=True, exist_ok=True)
    values = _secrets(data_dir)
    base = f"http://{args.host}:{args.port}"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(
        DJANGO_SECRET_KEY=values["DJANGO_SECRET_KEY"],
        SCHEDULER_JOIN_TOKEN=values["SCHEDULER_JOIN_TOKEN"],
        DATABASE_URL=args.database_url or f"sqlite:///{data_dir / 'scheduler.sqlite3'}",
        DJANGO_ALLOWED_HOSTS=f"{args.host},localhost,127.0.0.1",
        PYTHONUNBUFFERED="1",
    )
    if args.redis_url:
        env["REDIS_URL"] = args.redis_url
    if args.fast_timers:
        env.update(FAST_TIMERS)
    manage = [sys.executable, str(ROOT / "manage.py")]
    username, password = "admin", values["DEMO_ADMIN_PASSWORD"]

    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=env, check=True, cwd=ROOT)
    subprocess.run([*manage, "ensureadmin", f"--username={username}", f"--password={password}"],
                   env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)

    children: dict[str, subprocess.Popen] = {}

    def spawn(name: str, argv: list[str], child_env: dict[str, str]) -> subprocess.Popen:
        log = open(data_dir / "logs" / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it
        process = subprocess.Popen(argv, env=child_env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        children[name] = process
        return process

    def stop_all(*_: object) -> None:
        for name in [n for n in children if n.startswith("agent-")] + ["sweeper", "master"]:
            process = children.get(name)
            if process and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop_all)
    signal.signal(signal.SIGINT, stop_all)
    try:
        master = spawn("master", [sys.executable, "-m", "daphne", "-b", args.host, "-p", str(args.port),
                                  "scheduler_site.asgi:application"], env)
        _wait_http(f"{base}/healthz", timeout=30, process=master)
        spawn("sweeper", [*manage, "sweepnodes"], env)
        agent_env = {k: v for k, v in env.items() if k not in ("DJANGO_SECRET_KEY", "DATABASE_URL")}
        for name, cpu, mem in agents:
            spawn(f"agent-{name}", [*manage, "runworker", "--master", base, "--name", name, "--cpu", cpu,
                                    "--mem", mem, "--labels", f"size={name}",
                                    "--state-dir", str(data_dir / "agents" / name)], agent_env)
        # the password check is deliberately slow (PBKDF2): give a busy machine time
        token = requests.post(f"{base}/api/v1/auth/token", json={"username": username, "password": password},
                              timeout=60).json()["token"]
        _wait_nodes(base, token, [name for name, _, _ in agents], timeout=60)
        print(f"""
mini-scheduler is running.

  Dashboard  {base}/
  API        {base}/api/v1/   (docs: {base}/api/docs/)
  Admin      {base}/admin/
  Login      {username} / {password}
  Nodes      {", ".join(f"{n} ({c} cores, {m} MiB)" for n, c, m in agents)}
  Logs       {data_dir / "logs"}/
  Try        curl -s -XPOST {base}/api/v1/tasks -H "Authorization: Token {token}" \\
               -H 'content-type: application/json' -d '{{"command": "echo hello; sleep 2", "cpu": 0.5, "mem": 64}}'

Ctrl-C stops the cluster.""", flush=True)
        ready = {"url": base, "username": username, "password": password, "token": token,
                 "agents": {name: children[f"agent-{name}"].pid for name, _, _ in agents},
                 "master": master.pid, "sweeper": children["sweeper"].pid, "data_dir": str(data_dir)}
        print("READY " + json.dumps(ready), flush=True)
        while master.poll() is None:
            time.sleep(0.5)
        print(f"the master exited with code {master.returncode}; stopping", file=sys.stderr)
        stop_all()
    except SystemExit:
        raise
    except BaseException as exc:
        # say why before stopping: a silent exit 0 looked like a clean stop
        print(f"the demo failed to start: {exc!r}; stopping", file=sys.stderr, flush=True)
        try:
            stop_all()
        except SystemExit:
            raise SystemExit(1) from exc
    return 0


if __name__ == "__main__":
    sys.exit(main())
