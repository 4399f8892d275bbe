"""HTTP and WebSocket calls to the master, with errors a person can act on."""

from __future__ import annotations

import json
import random
import sys
import time
import uuid
from collections.abc import Iterator

import requests
import websocket


class CliError(Exception):
    """Printed as is, exit code 1."""


class StreamLost(CliError):
    """The log stream could not be opened or dropped for a reason that may pass (the master
    restarting, a proxy's 502): following resumes after the last sequence it printed."""


RETRIES = 3
MAX_WAIT = 30.0  # seconds: a longer Retry-After is taken as this


def retry_after(response: requests.Response) -> float | None:
    """Seconds a 503/429 asked to wait (Retry-After in seconds), else None."""
    if response.status_code not in (429, 503):
        return None
    try:
        seconds = float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None
    return min(MAX_WAIT, max(0.0, seconds)) if seconds == seconds else None


def _code(response: requests.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("code") if isinstance(body, dict) else None


class Transient(CliError):
    """The request may not have reached the master, or its answer was lost (connection refused or
    broken, a timeout, a proxy's 502/503/504): a create request carrying an Idempotency-Key may be
    sent again."""


# How long `post_once` keeps retrying a create request whose answer it did not get.
RETRY_FOR = 60.0
RETRY_STATUSES = (502, 503, 504)


class Api:
    sleep = staticmethod(time.sleep)

    def __init__(self, url: str, token: str | None, *, timeout: float = 15.0) -> None:
        self.url, self.token, self.timeout = url, token, timeout
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Token {token}"

    def request(self, method: str, path: str, **kwargs) -> dict | str:
        """One call; a 503/429 with Retry-After is waited out and tried again (at most RETRIES
        times): any GET, and a write only when the master shed it before running it."""
        for attempt in range(RETRIES + 1):
            response = self._send(method, path, **kwargs)
            wait = retry_after(response)
            if wait is None or attempt == RETRIES:
                break
            if method != "GET" and _code(response) != "overloaded":
                break
            print(f"schedctl: the master is busy ({response.status_code}); retrying in {wait:g} s", file=sys.stderr)
            self.sleep(wait)
        return self._answer(response)

    def _send(self, method: str, path: str, **kwargs) -> requests.Response:
        try:
            return self.session.request(method, f"{self.url}{path}", timeout=self.timeout, **kwargs)
        except requests.ConnectionError:
            raise Transient(f"cannot reach the master at {self.url} (is it running? --master or SCHEDULER_URL "
                            "sets where it is)") from None
        except requests.Timeout as error:
            raise Transient(f"request to {self.url} failed: {error}") from None
        except requests.RequestException as error:
            raise CliError(f"request to {self.url} failed: {error}") from None

    @staticmethod
    def _answer(response: requests.Response) -> dict | str:
        if response.status_code in RETRY_STATUSES:
            raise Transient(f"the master answered {response.status_code}: {_detail(response)}")
        if response.status_code == 401:
            raise CliError("the master refused the token: run `python -m schedctl login`, or set SCHEDULER_TOKEN")
        if response.status_code == 403:
            raise CliError(f"not allowed: {_detail(response)}")
        if response.status_code == 404:
            raise CliError(f"not found: {_detail(response)}")
        if response.status_code >= 400:
            raise CliError(_field_errors(response))
        if "json" in response.headers.get("content-type", ""):
            return response.json()
        return response.text

    def get(self, path: str, **params) -> dict:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: dict | None = None) -> dict:
        return self.request("POST", path, json=body or {})

    def post_once(self, path: str, body: dict | list, *, retry_for: float = RETRY_FOR) -> dict:
        """A create request that happens once however often it is sent: one Idempotency-Key for
        all its tries, retried while the answer is lost (the master restarting, the connection
        dropped after the master committed), for up to `retry_for` seconds."""
        headers = {"Idempotency-Key": str(uuid.uuid4())}
        deadline = time.monotonic() + retry_for
        failures = 0
        while True:
            try:
                return self.request("POST", path, json=body, headers=headers)
            except Transient as error:
                if time.monotonic() >= deadline:
                    raise
                if failures == 0:
                    print(f"schedctl: {error}; retrying (the same request: it will not run twice)", file=sys.stderr)
                ceiling = min(5.0, 0.2 * 2**failures)
                failures += 1
                time.sleep(random.uniform(ceiling / 2, ceiling))

    def follow(self, task_id: int, *, attempt: int | None, after: int) -> Iterator[dict]:
        """Frames of the task's log WebSocket, from `after` on (of `attempt`, else of the newest).
        Ends when the master closes the stream; raises StreamLost when it cannot be reached or
        the connection breaks, CliError when the master refuses us."""
        query = f"after={after}" + (f"&attempt={attempt}" if attempt is not None else "")
        ws_url = self.url.replace("http", "ws", 1) + f"/ws/tasks/{task_id}/logs/?{query}"
        try:
            # text frames are still decoded strictly as UTF-8 by recv(), in C; the library's own
            # pure-Python validator would cost a CPU-second per 8 MB of log
            ws = websocket.create_connection(
                ws_url, header=[f"Authorization: Token {self.token}"], timeout=30, skip_utf8_validation=True
            )
        except websocket.WebSocketBadStatusException as error:
            if error.status_code in (401, 403, 404):
                raise CliError(f"the master refused the log stream ({error.status_code}): check the token") from None
            raise StreamLost(f"the master answered {error.status_code}") from None
        except (OSError, websocket.WebSocketException) as error:
            raise StreamLost(f"cannot open the log stream at {ws_url}: {error}") from None
        try:
            while True:
                try:
                    text = ws.recv()
                except websocket.WebSocketTimeoutException:
                    continue
                except (OSError, websocket.WebSocketException) as error:
                    raise StreamLost(f"the log stream broke: {error or type(error).__name__}") from None
                if not text:
                    return
                yield json.loads(text)
        finally:
            try:
                ws.close(timeout=1)
            except (OSError, websocket.WebSocketException):
                pass


def _detail(response: requests.Response) -> str:
    try:
        return str(response.json().get("detail", response.text))
    except ValueError:
        return response.text[:300]


def _field_errors(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"{response.status_code}: {response.text[:300]}"
    if isinstance(body, dict):
        lines = [f"{field}: {' '.join(map(str, errors)) if isinstance(errors, list) else errors}"
                 for field, errors in body.items() if field != "code"]
        return f"the master refused it ({response.status_code}):\n  " + "\n  ".join(lines)
    return f"{response.status_code}: {body}"
