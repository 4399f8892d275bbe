"""Small builders for tests: nodes and tasks straight into the database, through the services."""

from __future__ import annotations

from django.utils import timezone

from nodes.models import Node
from nodes.services import register_node
from tasks.models import Task
from tasks.services import submit_task


def node(name: str = "node-a", *, cpu: float = 4, mem: int = 8192, labels: dict | None = None) -> Node:
    created, _ = register_node(name=name, cpu=int(cpu * 1000), mem=mem, labels=labels or {}, agent_info={})
    return created


def node_with_token(name: str = "node-a", *, cpu: float = 4, mem: int = 8192, labels: dict | None = None):
    return register_node(name=name, cpu=int(cpu * 1000), mem=mem, labels=labels or {}, agent_info={})


def task(command: str = "true", *, cpu: float = 1, mem: int = 256, **fields) -> Task:
    return submit_task(command=command, cpu=int(round(cpu * 1000)), mem=mem, **fields)


def age_heartbeat(node: Node, seconds: float) -> None:
    Node.objects.filter(pk=node.pk).update(last_heartbeat=timezone.now() - timezone.timedelta(seconds=seconds))
