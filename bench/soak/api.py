"""The harness's HTTP client: every request's outcome (start, end, route, status or error) is kept,
so the checker can tell a 5xx from a master killed at that moment from one that should not be."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import requests


@dataclass(frozen=True)
class Outcome:
    start: float  # unix time
    end: float
    method: str
    route: str  # a label: submit, cancel, task, logs, healthz, ...
    status: int | None  # None: no answer (error says why)
    error: str = ""
    retry_after: bool = False  # a 429/503 that said when to come back (load shed, database unavailable)


class Api:
    """A thread-safe recorded client (one requests.Session per thread)."""

    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        self.base = base_url.rstrip("/")
        self.timeout = timeout
        self.token = ""
        self.outcomes: list[Outcome] = []
        self._lock = threading.Lock()
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=4, max_retries=0)
            session.mount("http://", adapter)
        if self.token:
            session.headers["Authorization"] = f"Token {self.token}"
        return session

    def request(self, method: str, path: str, *, route: str, record: bool = True, timeout: float | None = None,
                **kwargs) -> requests.Response | None:
        start = time.time()
        try:
            response = self._session().request(method, self.base + path, timeout=timeout or self.timeout, **kwargs)
        except requests.RequestException as error:
            if record:
                self._add(Outcome(start, time.time(), method, route, None, type(error).__name__))
            return None
        if record:
            self._add(Outcome(start, time.time(), method, route, response.status_code,
                              retry_after=response.status_code in (429, 503) and "Retry-After" in response.headers))
        return response

    def _add(self, outcome: Outcome) -> None:
        with self._lock:
            self.outcomes.append(outcome)

    def login(self, username: str, password: str, *, attempts: int = 50) -> None:
        for _ in range(attempts):
            response = self.request("POST", "/api/v1/auth/token", route="login", record=False,
                                    json={"username": username, "password": password})
            if response is not None and response.status_code in (200, 201):
                self.token = response.json()["token"]
                return
            time.sleep(0.2)
        raise RuntimeError("could not obtain an API token through the proxy")
