"""The agents' network: each agent in a network namespace of its own, joined to the harness's
namespace by a veth pair on a private bridge; a partition sets the agent's end of the link down.

Only namespaces, links and addresses this run created are touched (names carry the harness's pid;
the leftovers of a dead harness are removed at set-up). Traffic stays on this machine: the bridge
address (10.213.K.1) is in the harness's namespace, where nginx listens for the agents. Without
root or `ip netns` the agents run in the harness's namespace and the partition fault is off.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def remove_leftovers() -> list[str]:
    """Namespaces and links of soak runs whose harness is gone."""
    removed = []
    for line in _ip("netns", "list", check=False).stdout.splitlines():
        match = re.match(r"(chaos-(\d+)-\S+)", line)
        if match and not _pid_alive(int(match.group(2))):
            _ip("netns", "del", match.group(1), check=False)
            removed.append(match.group(1))
    for line in _ip("-o", "link", "show", check=False).stdout.splitlines():
        match = re.match(r"\d+: (ch[bv](\d+)(?:[hp]\d+)?)[@:]", line)
        if match and not _pid_alive(int(match.group(2))):
            _ip("link", "del", match.group(1), check=False)
            removed.append(match.group(1))
    return removed


class AgentNetwork:
    """Namespaces for the named agents; `partition(name)` / `heal(name)` cut and restore the link."""

    def __init__(self, names: list[str], *, enabled: bool = True) -> None:
        self.names = list(names)
        self.pid = os.getpid()
        self.enabled = enabled and os.geteuid() == 0 and shutil.which("ip") is not None
        self.subnet = ""
        self.bridge = f"chb{self.pid}"
        self.namespaces = {name: f"chaos-{self.pid}-{name}" for name in self.names}
        self.reason_disabled = "" if self.enabled else "needs root and iproute2"

    @property
    def hub_address(self) -> str:
        """Where the agents reach nginx."""
        return f"{self.subnet}.1" if self.enabled else "127.0.0.1"

    def _pick_subnet(self) -> str:
        used = _ip("-4", "-o", "addr", "show", check=False).stdout
        for offset in range(250):
            k = (self.pid + offset) % 250 + 1
            if f"10.213.{k}." not in used:
                return f"10.213.{k}"
        raise RuntimeError("no free 10.213.K.0/24 subnet for the agents' bridge")

    def setup(self) -> None:
        if not self.enabled:
            return
        remove_leftovers()
        try:
            self.subnet = self._pick_subnet()
            _ip("link", "add", self.bridge, "type", "bridge")
            _ip("addr", "add", f"{self.subnet}.1/24", "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
            for index, name in enumerate(self.names):
                ns = self.namespaces[name]
                host, peer = f"chv{self.pid}h{index}", f"chv{self.pid}p{index}"
                _ip("netns", "add", ns)
                _ip("-n", ns, "link", "set", "lo", "up")
                _ip("link", "add", host, "type", "veth", "peer", "name", peer)
                _ip("link", "set", peer, "netns", ns)
                _ip("-n", ns, "link", "set", peer, "name", "eth0")
                _ip("-n", ns, "addr", "add", f"{self.subnet}.{10 + index}/24", "dev", "eth0")
                _ip("-n", ns, "link", "set", "eth0", "up")
                _ip("link", "set", host, "master", self.bridge)
                _ip("link", "set", host, "up")
        except (subprocess.CalledProcessError, RuntimeError) as error:
            detail = getattr(error, "stderr", "") or str(error)
            self.teardown()
            self.enabled = False
            self.reason_disabled = f"network namespaces unavailable: {detail.strip()}"

    def wrap(self, name: str, argv: list[str]) -> list[str]:
        """`argv` run inside the agent's namespace (`ip netns exec` execs it: the pid is the agent's)."""
        return ["ip", "netns", "exec", self.namespaces[name], *argv] if self.enabled else argv

    def partition(self, name: str) -> None:
        _ip("-n", self.namespaces[name], "link", "set", "eth0", "down")

    def heal(self, name: str) -> None:
        _ip("-n", self.namespaces[name], "link", "set", "eth0", "up")

    def teardown(self) -> None:
        for ns in self.namespaces.values():
            _ip("netns", "del", ns, check=False)
        _ip("link", "del", self.bridge, check=False)
