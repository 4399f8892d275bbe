"""HTTP to the master: register, heartbeat, leave. Errors come back as two kinds: the master said
no (`Rejected`, with its status and detail) or it could not be reached (`Unreachable`).

A 503 or 429 with `Retry-After` (a master shedding load, or its database unavailable) is honoured:
that master is not asked again before the time it gave, the next one is tried, and when every
master asked for patience the call fails at once with `Unreachable.retry_after`, so the caller's
retry loop (registration's backoff, the next heartbeat) cannot hammer a busy master."""

from __future__ import annotations

import time

import requests

from agent.masters import Masters

USER_AGENT = "mini-scheduler-agent/1"


class Unreachable(Exception):
    """Network trouble or a 5xx: retry later (not before `retry_after` seconds, when a master said)."""

    def __init__(self, message: str, *, retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


MAX_RETRY_AFTER = 60.0  # seconds: a larger Retry-After is taken as this


def retry_after_seconds(response: requests.Response) -> float | None:
    """The answer's Retry-After in seconds (503 and 429 only; delay-seconds form), else None."""
    if response.status_code not in (429, 503):
        return None
    try:
        seconds = float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None
    return min(MAX_RETRY_AFTER, max(0.0, seconds)) if seconds == seconds else None


class Rejected(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status, self.detail = status, detail


class MasterClient:
    def __init__(self, masters: Masters, *, timeout: float = 10.0) -> None:
        self.masters = masters
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self.not_before: dict[str, float] = {}  # master -> monotonic time it asked us to wait for

    def _post(self, path: str, token: str, body: dict) -> dict:
        """POST to the master in use; if it cannot be reached, to the next one, once round."""
        errors = []
        waits = []
        for master in self.masters.in_order():
            wait = self.not_before.get(master, 0.0) - time.monotonic()
            if wait > 0:
                errors.append(f"{master}: asked to retry in {wait:.1f} s")
                waits.append(wait)
                continue
            try:
                response = self.session.post(
                    f"{master}{path}", json=body, timeout=self.timeout, headers={"Authorization": f"Token {token}"},
                )
            except requests.RequestException as error:
                errors.append(f"{master}: {error}")
                self.masters.failed(master)
                continue
            retry_after = retry_after_seconds(response)
            if retry_after is not None:
                self.not_before[master] = time.monotonic() + retry_after
                errors.append(f"{master}: {response.status_code}, retry in {retry_after:g} s")
                waits.append(retry_after)
                self.masters.failed(master)
                continue
            if response.status_code >= 500:
                errors.append(f"{master}: {response.status_code}")
                self.masters.failed(master)
                continue
            self.masters.use(master)
            return self._answer(response)
        raise Unreachable("; ".join(errors), retry_after=min(waits) if len(waits) == len(errors) else 0.0)

    @staticmethod
    def _answer(response: requests.Response) -> dict:
        try:
            data = response.json() if response.content else {}
        except ValueError:
            data = {"detail": response.text[:200]}
        if response.status_code >= 400:
            raise Rejected(response.status_code, str(data))
        return data

    def register(self, *, join_token: str, name: str, cpu_millicores: int, mem_mib: int, labels: dict,
                 agent_info: dict, node_token: str | None) -> dict:
        body = {
            "name": name, "cpu": f"{cpu_millicores / 1000:.3f}", "mem": mem_mib, "labels": labels,
            "agent": agent_info, "node_token": node_token,
        }
        return self._post("/api/v1/internal/register", join_token, body)

    def heartbeat(self, *, node_id: int, token: str, body: dict) -> dict:
        return self._post(f"/api/v1/internal/nodes/{node_id}/heartbeat", token, body)

    def leave(self, *, node_id: int, token: str) -> dict:
        return self._post(f"/api/v1/internal/nodes/{node_id}/leave", token, {})
