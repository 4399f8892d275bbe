"""What the agent is: master URL(s), join token, node name, capacity, labels, state dir, the user
its tasks run as and where they work.

Every option also comes from the environment (SCHEDULER_MASTER, SCHEDULER_JOIN_TOKEN or
SCHEDULER_JOIN_TOKEN_FILE, SCHEDULER_NODE_NAME, SCHEDULER_NODE_CPU, SCHEDULER_NODE_MEM,
SCHEDULER_NODE_LABELS, SCHEDULER_STATE_DIR, SCHEDULER_SPOOL_MAX_MIB, SCHEDULER_EXCLUSIVE_CPUS,
SCHEDULER_TASK_USER, SCHEDULER_WORK_DIR); capacity defaults to what psutil reports for this machine.
The join token never comes from the command line: every user of the machine can read a process's
command line (/proc/PID/cmdline).
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from scheduler_site import formats  # pure standard library, shared with the master

DEFAULT_SPOOL_MAX_MIB = 1024
NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,251}[A-Za-z0-9])?$")


class ConfigError(ValueError):
    """A bad option; the message names it."""


@dataclass(frozen=True)
class AgentConfig:
    masters: tuple[str, ...]  # http(s)://host:port of each master the agent may use, in order
    join_token: str
    name: str
    cpu_millicores: int
    mem_mib: int
    labels: dict[str, str] = field(default_factory=dict)
    state_dir: Path = Path(".")
    carved: bool = False  # capacity set by hand: report this node's own usage, not the machine's
    spool_max_bytes: int = DEFAULT_SPOOL_MAX_MIB * 1024 * 1024
    exclusive_cpus: bool = False  # whole-core tasks get CPUs of their own (agent/cpus.py)
    task_user: str | None = None  # run as root: tasks run as this user (default: agent.isolation's)
    work_dir: Path | None = None  # the root of the tasks' working directories (default: agent.isolation's)


def parse_labels(raw: str | None) -> dict[str, str]:
    labels: dict[str, str] = {}
    for item in (raw or "").split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--labels: {item!r} is not key=value")
        labels[key.strip()] = value.strip()
    return labels


def parse_cores(raw: str) -> int:
    """Millicores from `--cpu`, read exactly as the master reads a node's capacity."""
    try:
        return formats.parse_cores(raw)
    except formats.QuantityError as error:
        raise ConfigError(f"--cpu: {raw!r}: {error.message}") from None


def parse_flag(raw: str | None, option: str) -> bool:
    if raw is None or raw.strip() == "":
        return False
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{option}: {raw!r} must be 1/true/yes/on or 0/false/no/off")


def parse_mib(raw: str, option: str = "--mem") -> int:
    try:
        mib = int(raw)
    except ValueError:
        raise ConfigError(f"{option}: {raw!r} is not a whole number of MiB") from None
    if mib <= 0:
        raise ConfigError(f"{option}: {raw!r} must be positive")
    return mib


def read_join_token_file(path: str) -> str:
    try:
        token = Path(path).read_text().strip()
    except OSError as error:
        raise ConfigError(f"--join-token-file: cannot read {path}: {error.strerror}") from None
    if not token:
        raise ConfigError(f"--join-token-file: {path} is empty")
    return token


def default_state_dir(name: str) -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "mini-scheduler" / name


def build_config(
    *,
    master: str | None,
    join_token: str | None,
    name: str | None = None,
    cpu: str | None = None,
    mem: str | None = None,
    labels: str | None = None,
    state_dir: str | None = None,
    spool_max_mib: str | None = None,
    exclusive_cpus: bool | None = None,
    join_token_file: str | None = None,
    task_user: str | None = None,
    work_dir: str | None = None,
    env: dict[str, str] | None = None,
) -> AgentConfig:
    """Options first, then the environment, then what the machine reports."""
    env = dict(os.environ if env is None else env)
    master = master or env.get("SCHEDULER_MASTER")
    join_token_file = join_token_file or env.get("SCHEDULER_JOIN_TOKEN_FILE")
    if not join_token and join_token_file:
        join_token = read_join_token_file(join_token_file)
    join_token = join_token or env.get("SCHEDULER_JOIN_TOKEN")
    task_user = task_user or env.get("SCHEDULER_TASK_USER") or None
    work_dir = work_dir or env.get("SCHEDULER_WORK_DIR") or None
    name = name or env.get("SCHEDULER_NODE_NAME") or socket.gethostname().split(".")[0]
    cpu = cpu or env.get("SCHEDULER_NODE_CPU")
    mem = mem or env.get("SCHEDULER_NODE_MEM")
    labels = labels if labels is not None else env.get("SCHEDULER_NODE_LABELS")
    state_dir = state_dir or env.get("SCHEDULER_STATE_DIR")
    spool_max_mib = spool_max_mib or env.get("SCHEDULER_SPOOL_MAX_MIB")
    if exclusive_cpus is None:
        exclusive_cpus = parse_flag(env.get("SCHEDULER_EXCLUSIVE_CPUS"), "SCHEDULER_EXCLUSIVE_CPUS")
    masters = tuple(url.strip().rstrip("/") for url in (master or "").split(",") if url.strip())
    if not masters or not all(re.match(r"^https?://[^/\s]+$", url) for url in masters):
        raise ConfigError("--master (or SCHEDULER_MASTER) must be the master's http(s)://host:port "
                          "(several, comma-separated, for several masters)")
    if not join_token:
        raise ConfigError("the join token is required: SCHEDULER_JOIN_TOKEN, or a file (--join-token-file or "
                          "SCHEDULER_JOIN_TOKEN_FILE)")
    if not NAME.match(name):
        raise ConfigError(f"--name: {name!r} must be letters, digits, '.', '_' or '-'")
    return AgentConfig(
        masters=masters,
        join_token=join_token,
        name=name,
        cpu_millicores=parse_cores(cpu) if cpu else (psutil.cpu_count() or 1) * 1000,
        mem_mib=parse_mib(mem) if mem else psutil.virtual_memory().total // (1024 * 1024),
        labels=parse_labels(labels),
        state_dir=Path(state_dir) if state_dir else default_state_dir(name),
        carved=bool(cpu or mem),
        spool_max_bytes=(parse_mib(spool_max_mib, "--spool-max-mib") if spool_max_mib
                         else DEFAULT_SPOOL_MAX_MIB) * 1024 * 1024,
        exclusive_cpus=exclusive_cpus,
        task_user=task_user,
        work_dir=Path(work_dir) if work_dir else None,
    )
