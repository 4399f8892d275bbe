"""Where the master is and who we are: flags, then environment, then the config file."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path


def config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "mini-scheduler" / "config.json"


@dataclass
class Settings:
    url: str
    token: str | None


def load(*, url: str | None, token: str | None) -> Settings:
    saved: dict = {}
    path = config_path()
    if path.exists():
        try:
            saved = json.loads(path.read_text())
        except ValueError:
            saved = {}
    return Settings(
        url=(url or os.environ.get("SCHEDULER_URL") or saved.get("url") or "http://127.0.0.1:8000").rstrip("/"),
        token=token or os.environ.get("SCHEDULER_TOKEN") or saved.get("token"),
    )


def save(settings: Settings) -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"url": settings.url, "token": settings.token}, handle)
    return path
