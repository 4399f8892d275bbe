"""Fault-injection soak: two masters behind nginx, two sweepers, five agents in network namespaces,
a private PostgreSQL and Redis, a mixed workload and seeded faults; then the invariant checker.

    sudo .venv/bin/python bench/chaos.py [--seed N] [--minutes 3] [--intensity 1] [--workdir DIR]
    sudo .venv/bin/python bench/chaos.py --overload [--pending 100000] [--subscribers 1000]

The seed is printed first: the same seed replays the same faults at the same offsets. Exit status 1
when the checker found a violation. See docs/reliability.md.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.soak.faults import KINDS
from bench.soak.report import render
from bench.soak.run import Soak


def _interrupted(*_: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=None, help="default: a random one (printed)")
    parser.add_argument("--minutes", type=float, default=3.0, help="how long faults are injected")
    parser.add_argument("--intensity", type=float, default=1.0, help="scales the fault and submit rates")
    parser.add_argument("--faults", default=",".join(KINDS), help="kinds to inject (default: all): "
                        + ", ".join(KINDS))
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="extra setting for masters, sweepers and agents (repeatable), e.g. to try a fix")
    parser.add_argument("--daphne-arg", action="append", default=[], metavar="ARG",
                        help="extra daphne argument for the masters (repeatable), e.g. "
                             "--daphne-arg=--application-close-timeout=600")
    parser.add_argument("--settle-timeout", type=float, default=300)
    parser.add_argument("--workdir", default=None, help="run directory (default: a new one under /tmp)")
    parser.add_argument("--json", default=None, help="also write the result here")
    parser.add_argument("--overload", action="store_true", help="run the overload probe instead of the soak")
    parser.add_argument("--pending", type=int, default=100_000, help="overload: pending tasks")
    parser.add_argument("--subscribers", type=int, default=1000, help="overload: log subscribers")
    parser.add_argument("--flood", type=int, default=2000, help="overload: submits from 16 clients first (0: none)")
    parser.add_argument("--surge", type=int, default=400, help="overload: clients submitting at the same moment "
                        "(0: none)")
    parser.add_argument("--ramp", type=int, default=0, help="overload: at most this many subscriber handshakes "
                        "at once (default: all at once)")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1, 2**31)
    print(f"seed {seed}", flush=True)
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix=f"chaos-{seed}-"))
    print(f"run directory {workdir} ({time.strftime('%Y-%m-%d %H:%M:%S')})", flush=True)
    if args.overload:
        from bench.soak.overload import probe

        figures = probe(workdir=workdir, pending=args.pending, subscribers=args.subscribers, flood=args.flood,
                        ramp=args.ramp, surge=args.surge)
        print(json.dumps(figures, indent=2))
        if args.json:
            Path(args.json).write_text(json.dumps(figures, indent=2))
        return 0
    kinds = tuple(k for k in args.faults.split(",") if k)
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        parser.error(f"--faults: unknown kinds {unknown}")
    extra = dict(item.split("=", 1) for item in args.env if "=" in item)
    soak = Soak(seed=seed, minutes=args.minutes, intensity=args.intensity, workdir=workdir,
                settle_timeout=args.settle_timeout, kinds=kinds, extra_env=extra,
                daphne_args=tuple(args.daphne_arg),
                log=lambda text: print(text, flush=True))
    signal.signal(signal.SIGTERM, _interrupted)  # a killed run still tears down what it started
    result = soak.run()
    print(render(result), flush=True)
    print(f"details: {workdir}/result.json, logs in {workdir}/logs", flush=True)
    if args.json:
        Path(args.json).write_text((workdir / "result.json").read_text())
    return 1 if result.violations else 0


if __name__ == "__main__":
    sys.exit(main())
