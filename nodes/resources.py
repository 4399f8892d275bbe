"""The resource vector: every quantity a node has and a task asks for, one entry each. Filters
(one "Insufficient <name>" check per entry), the Best Fit score (each dimension normalised by the
node's capacity), the reservation and its re-check, the accounting and its invariant, the CHECK
constraint and the API's figures all iterate over `RESOURCES`, so a new resource (GPUs, a named
countable resource) is one entry here plus its columns, not five edits.

Pure (no Django): the placement's pure modules use it too. Amounts are integers in the stored unit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from scheduler_site.formats import millicores_to_cores


def _same(amount: int) -> int:
    return amount


@dataclass(frozen=True)
class Resource:
    name: str  # as the filter's reason says it: "Insufficient <name>"
    request_field: str  # Task's column, and the API's name of the task's request and the node's capacity
    capacity_field: str  # Node's column
    allocated_field: str  # Node's column: the sum over its ASSIGNED and RUNNING tasks
    unit: str  # the stored unit, as the invariant's messages print it after an amount
    to_api: Callable[[int], float | int] = _same  # stored unit -> the API's unit
    # Scarce: a task that asks for none of it keeps off nodes that have some free, so the few nodes
    # with GPUs stay free for the work that needs them (the scorers' `idle_scarce_penalty`).
    scarce: bool = False

    @property
    def reason(self) -> str:
        return f"Insufficient {self.name}"


CPU = Resource(name="cpu", request_field="cpu", capacity_field="cpu_capacity", allocated_field="cpu_allocated",
               unit="m", to_api=millicores_to_cores)
MEMORY = Resource(name="memory", request_field="mem", capacity_field="mem_capacity", allocated_field="mem_allocated",
                  unit="MiB")

# Counted whole devices; which devices a task holds is recorded per attempt (`Task.gpu_devices`,
# picked by `tasks.devices` from the node's `gpu_devices`), the count is accounted like the others.
GPU = Resource(name="gpu", request_field="gpu", capacity_field="gpu_capacity", allocated_field="gpu_allocated",
               unit="gpu", scarce=True)

RESOURCES: tuple[Resource, ...] = (CPU, MEMORY, GPU)


def amounts(obj: object, field: str) -> tuple[int, ...]:
    """One amount per resource, read from `obj`'s attribute named by each resource's `field`
    ("request_field", "capacity_field" or "allocated_field")."""
    return tuple(getattr(obj, getattr(resource, field)) for resource in RESOURCES)


def show(values: tuple[int, ...]) -> str:
    """Amounts in their stored units: '1500m/2048MiB'."""
    return "/".join(f"{value}{resource.unit}" for resource, value in zip(RESOURCES, values, strict=True))


# -- Named countable resources (issue 19): licences, FPGA slots... ----------------------------------
# Whatever an agent advertises with `--resource NAME=COUNT`: not columns of their own but one map per
# node (`Node.resources`: capacity, `Node.resources_allocated`) and per task (`Task.resources`), each
# name a further dimension of the vector for the filters ("Insufficient <name>"), the score, the
# reservation and its re-check, and the invariant.
NAMED_RESOURCE = re.compile(r"^[A-Za-z][A-Za-z0-9._/-]{0,62}$")
RESERVED_NAMES = frozenset({r.name for r in RESOURCES} | {r.request_field for r in RESOURCES})
MAX_NAMED_RESOURCES = 32
MAX_NAMED_AMOUNT = 1_000_000


def named_reason(name: str) -> str:
    return f"Insufficient {name}"


def add_named(base: Mapping[str, int], delta: Mapping[str, int], sign: int = 1) -> dict[str, int]:
    """`base` plus (or minus) `delta`, name by name; names that end at zero are dropped."""
    out = dict(base)
    for name, amount in delta.items():
        out[name] = out.get(name, 0) + sign * amount
        if out[name] == 0:
            del out[name]
    return out
