"""Crowds of sockets at full size: 1,000 log sockets opened at once and 1,000 agents reconnecting at
once after a master restart, on PostgreSQL + Redis, counting handshake errors and 5xx (0 expected).
The suite runs the same tests with 300 (tests/scale/test_socket_crowds.py); this runs them with
SCHEDULER_CROWD sockets and prints how long each took.

    DATABASE_URL=postgres://... REDIS_URL=redis://... .venv/bin/python bench/socket_crowds.py [--crowd 1000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crowd", type=int, default=1000)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")) \
            or not os.environ.get("REDIS_URL"):
        print("set DATABASE_URL (PostgreSQL) and REDIS_URL", file=sys.stderr)
        return 2
    env = {**os.environ, "SCHEDULER_CROWD": str(args.crowd)}
    env.setdefault("DJANGO_SECRET_KEY", "bench-secret-key")
    env.setdefault("SCHEDULER_JOIN_TOKEN", "bench-join-token-0123456789")
    return subprocess.call([sys.executable, "-m", "pytest", "-q", "--durations=0",
                            "tests/scale/test_socket_crowds.py"], cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main())
