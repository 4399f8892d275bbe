"""A directory the tasks of a real cluster can write in: they run as the unprivileged task user
when the agent is root, and pytest's tmp_path sits under 0700 parents."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest


@pytest.fixture
def shared_dir():
    path = Path(tempfile.mkdtemp(prefix="batch-test-", dir="/tmp"))
    os.chmod(path, 0o777)  # the task user writes its marker files here
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
