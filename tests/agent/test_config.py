"""The agent's options: each comes from the command line or the environment, and a bad one is
refused with a message naming it."""

from __future__ import annotations

import pytest

from agent.config import ConfigError, build_config

BASE = {"SCHEDULER_MASTER": "http://127.0.0.1:8000", "SCHEDULER_JOIN_TOKEN": "join-token-0123456789"}


def test_options_win_over_the_environment() -> None:
    config = build_config(master=None, join_token=None, name="n1", cpu="0.5", mem="512", labels="zone=a",
                          state_dir="/tmp/x", spool_max_mib="64",
                          env={**BASE, "SCHEDULER_NODE_CPU": "8", "SCHEDULER_SPOOL_MAX_MIB": "2048"})
    assert (config.cpu_millicores, config.mem_mib, config.labels) == (500, 512, {"zone": "a"})
    assert config.spool_max_bytes == 64 * 1024 * 1024
    assert config.carved


def test_the_environment_fills_what_options_leave_out() -> None:
    config = build_config(master=None, join_token=None, name="n1",
                          env={**BASE, "SCHEDULER_MASTER": "http://a:1,http://b:2", "SCHEDULER_SPOOL_MAX_MIB": "10"})
    assert config.masters == ("http://a:1", "http://b:2")
    assert config.spool_max_bytes == 10 * 1024 * 1024
    assert not config.carved


def test_the_spool_defaults_to_one_gib() -> None:
    assert build_config(master=None, join_token=None, name="n1", env=BASE).spool_max_bytes == 1024 ** 3


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("cpu", "lots", "--cpu"),
        ("cpu", "-1", "--cpu"),
        ("cpu", "1e-999999999", "--cpu"),  # below a millicore, not 0 cores
        ("cpu", "1.0000000000000000000000000001", "--cpu"),  # finer than a millicore, not 1
        ("cpu", "1e999999999", "--cpu"),
        ("mem", "1.5", "--mem"),
        ("mem", "0", "--mem"),
        ("labels", "zone", "--labels"),
        ("name", "bad name", "--name"),
        ("master", "ftp://x", "--master"),
        ("spool_max_mib", "big", "--spool-max-mib"),
        ("spool_max_mib", "0", "--spool-max-mib"),
    ],
)
def test_a_bad_option_is_refused_by_name(field: str, value: str, named: str) -> None:
    options = {"master": None, "join_token": None, "name": "n1", field: value}
    with pytest.raises(ConfigError, match=named):
        build_config(**options, env=BASE)


def test_no_join_token_is_refused() -> None:
    with pytest.raises(ConfigError, match="--join-token-file"):
        build_config(master="http://m:1", join_token=None, name="n1", env={})


def test_the_join_token_comes_from_a_file_or_the_environment(tmp_path) -> None:
    token_file = tmp_path / "join-token"
    token_file.write_text("from-a-file-0123456789\n")
    env = {"SCHEDULER_MASTER": "http://m:1"}
    assert build_config(master=None, join_token=None, join_token_file=str(token_file), name="n1",
                        env=env).join_token == "from-a-file-0123456789"
    assert build_config(master=None, join_token=None, name="n1",
                        env={**env, "SCHEDULER_JOIN_TOKEN_FILE": str(token_file),
                             "SCHEDULER_JOIN_TOKEN": "ignored-0123456789"}).join_token == "from-a-file-0123456789"
    assert build_config(master=None, join_token=None, name="n1", env=BASE).join_token == "join-token-0123456789"
    with pytest.raises(ConfigError, match="--join-token-file"):
        build_config(master=None, join_token=None, join_token_file=str(tmp_path / "missing"), name="n1", env=env)
    token_file.write_text("\n")
    with pytest.raises(ConfigError, match="is empty"):
        build_config(master=None, join_token=None, join_token_file=str(token_file), name="n1", env=env)


def test_the_task_user_and_work_dir_come_from_options_or_the_environment() -> None:
    config = build_config(master=None, join_token=None, name="n1",
                          env={**BASE, "SCHEDULER_TASK_USER": "runner", "SCHEDULER_WORK_DIR": "/srv/work"})
    assert (config.task_user, str(config.work_dir)) == ("runner", "/srv/work")
    config = build_config(master=None, join_token=None, name="n1", task_user="other", env=BASE)
    assert (config.task_user, config.work_dir) == ("other", None)


def test_exclusive_cpus_is_off_by_default_and_set_by_flag_or_environment() -> None:
    assert not build_config(master=None, join_token=None, name="n1", env=BASE).exclusive_cpus
    assert build_config(master=None, join_token=None, name="n1", exclusive_cpus=True, env=BASE).exclusive_cpus
    assert build_config(master=None, join_token=None, name="n1",
                        env={**BASE, "SCHEDULER_EXCLUSIVE_CPUS": "yes"}).exclusive_cpus
    with pytest.raises(ConfigError, match="SCHEDULER_EXCLUSIVE_CPUS"):
        build_config(master=None, join_token=None, name="n1", env={**BASE, "SCHEDULER_EXCLUSIVE_CPUS": "maybe"})
