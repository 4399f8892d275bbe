"""schedctl and GPUs (issue 19), against a real master and an agent declaring two devices:
`submit --gpus N` asks for them, the task prints the devices it sees, `show` names them, `nodes`
shows GPUs used/total."""

from __future__ import annotations

import pytest

from tests.cli.test_schedctl import schedctl

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(300)]


def test_submit_gpus_show_and_nodes(cluster, user_env):
    cluster.start_agent("gpu-box", cpu=2, mem=512, options=("--gpus", "0,1"))

    done = schedctl("submit", "--cpu", "0.5", "--mem", "64", "--gpus", "2", "--follow", "--",
                    "echo", "sees [$CUDA_VISIBLE_DEVICES]", env=user_env, timeout=150)

    assert done.returncode == 0, done.stderr
    assert "sees [0,1]" in done.stdout
    task_id = int(done.stdout.split()[1])
    shown = schedctl("show", str(task_id), env=user_env)
    assert "gpu             2 (devices 0,1)" in shown.stdout
    listed = schedctl("nodes", env=user_env)
    header, row = listed.stdout.splitlines()[:2]
    assert "GPU" in header.split() and "0/2" in row.split()
    refused = schedctl("submit", "--gpus", "-1", "--", "true", env=user_env)
    assert refused.returncode == 1 and "gpu:" in refused.stderr
    unknown = schedctl("submit", "--resource", "matlab=1", "--", "true", env=user_env)
    assert unknown.returncode == 1 and "No node advertises matlab" in unknown.stderr
