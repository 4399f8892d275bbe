"""The agent builds what it sends with `agent.protocol`'s builders only: no module of the agent but
the protocol writes a frame or a report as a dict literal (a renamed field would then pass unseen)."""

from __future__ import annotations

import ast
from pathlib import Path

AGENT = Path(__file__).resolve().parents[2] / "agent"
PROTOCOL_KEYS = {"state", "reports", "chunks", "exit_code", "cpu_usage"}


def hand_built(path: Path) -> list[str]:
    found = []
    tree = ast.parse(path.read_text())
    log_extras = {id(keyword.value) for call in ast.walk(tree) if isinstance(call, ast.Call)
                  for keyword in call.keywords if keyword.arg == "extra"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict) and id(node) not in log_extras:
            keys = {key.value for key in node.keys if isinstance(key, ast.Constant)}
            frame_type = any(isinstance(key, ast.Constant) and key.value == "type" and isinstance(value, ast.Constant)
                             for key, value in zip(node.keys, node.values, strict=True))
            if keys & PROTOCOL_KEYS or frame_type:
                found.append(f"{path.name}:{node.lineno} {sorted(keys)}")
    return found


def test_no_agent_module_but_the_protocol_builds_frames_or_reports_by_hand() -> None:
    modules = [path for path in AGENT.rglob("*.py") if path.name != "protocol.py"]
    assert len(modules) > 10
    assert [hit for path in modules for hit in hand_built(path)] == []
