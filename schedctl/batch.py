"""Batch workloads in the CLI (issue 16): spec files, Slurm's --dependency spelling, arrays, plan."""

from __future__ import annotations

import json
from pathlib import Path

from schedctl.api import CliError

DEPENDENCY_TYPES = ("afterok", "afterany", "afternotok")


def parse_dependency(text: str) -> tuple[str, list[int]]:
    """Slurm's spelling: "afterok:12:13" (or "afterok:12,13"); a bare "12:13" means afterok."""
    kind, _, rest = text.partition(":")
    if kind.isdigit():
        kind, rest = "afterok", text
    if kind not in DEPENDENCY_TYPES:
        raise CliError(f"--dependency {text!r}: the type must be one of {', '.join(DEPENDENCY_TYPES)}")
    ids = [part for part in rest.replace(",", ":").split(":") if part]
    if not ids or not all(part.isdigit() for part in ids):
        raise CliError(f"--dependency {text!r}: expected e.g. afterok:12:13")
    return kind, [int(part) for part in ids]


def load_spec_file(path: str) -> list[dict]:
    """A YAML or JSON file (or - for stdin): one task, a list of tasks, or several YAML documents."""
    import sys

    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror}") from None
    if path.endswith(".json"):
        try:
            documents = [json.loads(text)]
        except ValueError as error:
            raise CliError(f"{path}: not valid JSON: {error}") from None
    else:
        try:
            import yaml
        except ImportError:
            raise CliError("reading YAML needs PyYAML (pip install PyYAML); JSON files work without it") from None
        try:
            documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
        except yaml.YAMLError as error:
            raise CliError(f"{path}: not valid YAML: {error}") from None
    tasks: list[dict] = []
    for document in documents:
        for item in document if isinstance(document, list) else [document]:
            if not isinstance(item, dict):
                raise CliError(f"{path}: each task must be a mapping of fields, not {type(item).__name__}")
            tasks.append(item)
    if not tasks:
        raise CliError(f"{path}: no task in it")
    return tasks


def array_counts_line(array: dict) -> str:
    counts = array["counts"]
    shown = "  ".join(f"{status} {count}" for status, count in counts.items() if count)
    limit = f" %{array['throttle']}" if array.get("throttle") else ""
    return f"array {array['id']} ({array['spec']}{limit}, {array['size']} tasks): {shown or 'no tasks'}"


def plan_lines(plan: dict) -> list[str]:
    lines = [f"{plan['status_reason'] or 'Placeable'}: {plan['status_message']}"]
    width = max((len(node["name"]) for node in plan["nodes"]), default=4)
    for node in plan["nodes"]:
        mark = "->" if node["chosen"] else ("ok" if node["feasible"] else "no")
        lines.append(f"  {mark} {node['name'].ljust(width)}  {node['reason'] or ''}".rstrip())
    return lines
