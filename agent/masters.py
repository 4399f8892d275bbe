"""The masters an agent may talk to (several daphne processes, or one behind a proxy): the one in
use, and moving on to the next when it cannot be reached."""

from __future__ import annotations

import re
import threading


class Masters:
    def __init__(self, urls: list[str]) -> None:
        if not urls:
            raise ValueError("at least one master URL is needed")
        self.urls = [url.rstrip("/") for url in urls]
        self._index = 0
        self._lock = threading.Lock()

    def current(self) -> str:
        with self._lock:
            return self.urls[self._index]

    def in_order(self) -> list[str]:
        """Every master, the one in use first."""
        with self._lock:
            return self.urls[self._index :] + self.urls[: self._index]

    def use(self, url: str) -> None:
        with self._lock:
            self._index = self.urls.index(url)

    def failed(self, url: str) -> None:
        """`url` did not answer: the next call goes to the next master."""
        with self._lock:
            if self.urls[self._index] == url:
                self._index = (self._index + 1) % len(self.urls)

    def ws_url(self) -> str:
        return re.sub(r"^http", "ws", self.current()) + "/ws/agent/"
