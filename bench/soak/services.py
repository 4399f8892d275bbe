"""The soak's own PostgreSQL, Redis and nginx, on private ports under the run's directory.

The machine's shared PostgreSQL (5432) and Redis (6379) serve other people's tests: the soak never
touches them. It runs a private PostgreSQL (initdb + pg_ctl as the `postgres` OS user, data in the
run's directory) and a private redis-server (no persistence), so its "PostgreSQL restart" and
"Redis restart" faults restart only those. nginx is Debian's package (installed with apt-get when
missing), configured from docs/deploy/nginx.conf with the ports and addresses of this run.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, *, host: str = "127.0.0.1", timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {host}:{port} after {timeout:g}s")


def _postgres_bin() -> Path:
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name))
    if not versions:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
    return Path(versions[-1])


class PrivatePostgres:
    """A PostgreSQL cluster of the soak's own: `restart()` is the fault, `stop()` the cleanup."""

    user = "postgres"

    def __init__(self, workdir: Path, *, port: int | None = None) -> None:
        self.bin = _postgres_bin()
        self.port = port or free_port()
        # Its own directory under the system's temp dir: the `postgres` user must be able to reach
        # it, which a run directory under a private parent (pytest's tmp_path) does not allow.
        self.dir = Path(tempfile.mkdtemp(prefix="chaos-pg-"))
        self.server_log = workdir / "logs" / "postgres.log"
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.dbname = "chaos_soak"

    def _as_postgres(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["runuser", "-u", self.user, "--", *argv], check=check, capture_output=True, text=True,
                              cwd="/")

    def _options(self) -> str:
        # fsync off: a process crash (the restart fault) keeps what the OS has; nothing here survives
        # a machine crash anyway. max_connections covers two masters' pools, sweepers and the harness.
        return (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300 "
                "-c shared_buffers=128MB")

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{self.dbname}"

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        shutil.chown(self.dir, self.user, self.user)
        os.chmod(self.dir, 0o700)
        if not (self.data / "PG_VERSION").exists():
            self._as_postgres(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                              "--no-sync", "-E", "UTF8")
        self._pg_ctl("start")
        self._as_postgres(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), self.dbname,
                          check=False)

    def _pg_ctl(self, action: str, *extra: str) -> None:
        result = self._as_postgres(str(self.bin / "pg_ctl"), action, "-D", str(self.data), "-l", str(self.log),
                                   "-o", self._options(), "-w", "-t", "60", *extra, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"pg_ctl {action} failed: {result.stdout}{result.stderr}")

    def restart(self, *, mode: str = "fast", down: float = 0.0) -> None:
        """Stop (`fast`: clients cut off; `immediate`: a crash and recovery) and start again."""
        self._pg_ctl("stop", "-m", mode)
        time.sleep(down)
        self._pg_ctl("start")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._as_postgres(str(self.bin / "pg_ctl"), "stop", "-D", str(self.data), "-m", "immediate", check=False)
        if self.log.exists():
            self.server_log.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.log, self.server_log)
        shutil.rmtree(self.dir, ignore_errors=True)


class PrivateRedis:
    """A redis-server of the soak's own, no persistence; `restart()` kills it -9 and starts it."""

    def __init__(self, workdir: Path, *, port: int | None = None) -> None:
        self.port = port or free_port()
        self.log = workdir / "logs" / "redis.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        redis = shutil.which("redis-server")
        if not redis:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [redis, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--protected-mode", "no", "--logfile", str(self.log)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_port(self.port)

    def restart(self, *, down: float = 0.0) -> None:
        self.stop()
        time.sleep(down)
        self.start()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)


def ensure_nginx() -> str:
    """The nginx binary, installing Debian's package when it is missing (the soak runs as root)."""
    found = shutil.which("nginx") or (os.path.exists("/usr/sbin/nginx") and "/usr/sbin/nginx")
    if found:
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "nginx"]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=True)
        subprocess.run(install, env=env, capture_output=True, check=True)
    return shutil.which("nginx") or "/usr/sbin/nginx"


def nginx_config(template: str, *, masters: list[int], listen: list[str], prefix: Path) -> str:
    """docs/deploy/nginx.conf with this run's upstreams and listen addresses (each upstream block's
    `server 127.0.0.1:PORT ...` lines become this run's masters, with that block's options)."""
    lines = template.splitlines()
    listens = [line for line in lines if re.match(r"\s*listen \d+;", line)]
    server = re.compile(r"\s*server 127\.0\.0\.1:\d+")
    if not any(server.match(line) for line in lines) or len(listens) != 1:
        raise RuntimeError("docs/deploy/nginx.conf changed shape: expected `server 127.0.0.1:PORT` upstream "
                           "lines and one `listen PORT;`")
    out: list[str] = []
    for index, line in enumerate(lines):
        if not server.match(line):
            out.append(line)
            continue
        if index and server.match(lines[index - 1]):
            continue  # the block's first line wrote the whole block
        indent = re.match(r"\s*", line).group(0)
        options = line.strip().split(None, 2)[2] if len(line.split()) > 2 else ";"
        out.extend(f"{indent}server 127.0.0.1:{port} {options}" for port in masters)
    text = "\n".join(out) + ("\n" if template.endswith("\n") else "")
    listen_indent = re.match(r"\s*", listens[0]).group(0)
    text = text.replace(listens[0], "\n".join(f"{listen_indent}listen {address};" for address in listen))
    return text.replace("pid nginx.pid;", f"pid {prefix}/nginx.pid;").replace(
        "error_log error.log warn;", f"error_log {prefix}/error.log warn;")


class Nginx:
    """nginx in front of the masters, as docs/deployment.md describes (WebSocket upgrade included)."""

    def __init__(self, workdir: Path, *, masters: list[int], addresses: list[str], port: int | None = None) -> None:
        self.port = port or free_port()
        self.prefix = workdir / "nginx"
        self.masters = masters
        self.addresses = addresses
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = ensure_nginx()
        self.prefix.mkdir(parents=True, exist_ok=True)
        template = (ROOT / "docs" / "deploy" / "nginx.conf").read_text()
        config = nginx_config(template, masters=self.masters, prefix=self.prefix,
                              listen=[f"{address}:{self.port}" for address in self.addresses])
        conf = self.prefix / "nginx.conf"
        conf.write_text(config)
        log = open(self.prefix / "stderr.log", "ab")  # noqa: SIM115 - the child owns it
        self.process = subprocess.Popen([binary, "-c", str(conf), "-p", str(self.prefix), "-g", "daemon off;"],
                                        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_port(self.port)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
