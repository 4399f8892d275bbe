"""The fault-injection soak, short and seeded: bench/chaos.py for 3 minutes (its own PostgreSQL,
Redis and nginx; agents in network namespaces), then its invariant checker. Zero violations is the
bar; until the soak's findings are fixed it fails, as the xfail reason says."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
SEED = 20261202  # its schedule holds every kind of fault (the first eight are one of each)

if os.environ.get("SCHEDULER_SOAK") != "1":  # until the soak's findings are fixed: run it with SCHEDULER_SOAK=1
    pytest.skip("the 3-minute soak runs with SCHEDULER_SOAK=1", allow_module_level=True)

pytestmark = [pytest.mark.postgres, pytest.mark.cluster, pytest.mark.timeout(1800)]


@pytest.mark.xfail(strict=True, reason="soak findings (docs/reliability.md): masters wedge once abandoned "
                   "requests leak their pooled connections (test_chaos_findings), and a node lost while "
                   "its tasks run lets two attempts of one task run to the end")
def test_three_minute_seeded_soak_finds_no_violation(tmp_path):
    if os.geteuid() != 0 and not shutil.which("nginx"):
        pytest.skip("the soak installs nginx and makes network namespaces: it needs root")
    out = tmp_path / "result.json"
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "chaos.py"), "--seed", str(SEED), "--minutes", "3",
         "--settle-timeout", "240", "--workdir", str(tmp_path / "run"), "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=1700,
        env={k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")})
    assert out.exists(), f"the soak did not finish (exit {run.returncode}):\n{run.stdout[-4000:]}\n{run.stderr[-4000:]}"
    result = json.loads(out.read_text())
    stats = result["stats"]
    assert stats["accepted_submits"] > 2000, "the workload and the burst ran"
    assert sum(n for kind, n in stats["faults_by_kind"].items() if "skipped" not in kind) >= 8
    rules = stats["violations_by_rule"]
    assert not result["violations"], f"violations by rule {rules}; report:\n{run.stdout[-6000:]}"
