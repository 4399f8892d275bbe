"""Changes to nodes that are not about health: joining the cluster, draining, undraining."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from django.db import transaction
from django.utils import timezone

from nodes import hooks
from nodes.health import set_status
from nodes.models import Node, NodeEvent, NodeStatus
from nodes.node_updates import nodes_changed
from nodes.resources import CPU, MEMORY, RESOURCES
from scheduler_site import tokens
from scheduler_site.exceptions import NodeNameTaken
from scheduler_site.formats import millicores_to_cores, parse_id, plural

log = logging.getLogger("nodes")


def node_from_token(raw: str) -> Node | None:
    """The node a node token belongs to, or None (compared in constant time)."""
    parsed = tokens.parse_token(raw, tokens.NODE_PREFIX)
    node_id = parse_id(parsed.ident) if parsed is not None else None
    if node_id is None:
        return None
    node = Node.objects.filter(pk=node_id).first()
    if node is None or not tokens.secret_matches(parsed.secret, node.token_digest):
        return None
    return node


@transaction.atomic
def register_node(
    *,
    name: str,
    cpu: int,
    mem: int,
    labels: Mapping[str, str],
    agent_info: Mapping[str, object],
    node_token: str | None = None,
) -> tuple[Node, str]:
    """Join (or rejoin) the cluster. Returns the node and its clear token.

    The join token creates new nodes only: a name already in use is taken back only by the holder
    of that node's own token (an agent restarted with its state dir), whatever the node's status.
    To give the name to another agent, an operator forgets the node first (`forget_node`).
    """
    now = timezone.now()
    node = Node.objects.select_for_update().filter(name=name).first()
    if node is None:
        secret = tokens.new_secret()
        node = Node.objects.create(
            name=name, cpu_capacity=cpu, mem_capacity=mem, labels=dict(labels), agent_info=dict(agent_info),
            token_digest=tokens.hash_secret(secret), last_heartbeat=now, registered_at=now,
        )
        NodeEvent.objects.create(node=node, to_status=NodeStatus.ONLINE, reason="Registered",
                                 message=f"Joined with {plural(millicores_to_cores(cpu), 'core')}, {mem} MiB.")
        nodes_changed([node])
        hooks.placement_wanted()
        log.info("node registered", extra={"node": name, "node_id": node.pk})
        return node, tokens.make_token(tokens.NODE_PREFIX, node.pk, secret)

    presented = tokens.parse_token(node_token or "", tokens.NODE_PREFIX)
    holds_token = (
        presented is not None
        and presented.ident == str(node.pk)
        and tokens.secret_matches(presented.secret, node.token_digest)
    )
    if not holds_token:
        raise NodeNameTaken(
            f"A node named {name!r} exists ({node.status}); rejoin with its own token (the agent's state "
            "dir), or have an operator forget the node in the admin first.",
            field="name",
        )
    token = node_token
    # Capacity may change between lives; it never drops below what tasks hold right now.
    offered = {CPU.capacity_field: cpu, MEMORY.capacity_field: mem}
    for resource in RESOURCES:
        setattr(node, resource.capacity_field,
                max(offered[resource.capacity_field], getattr(node, resource.allocated_field)))
    node.labels = dict(labels)
    node.agent_info = dict(agent_info)
    node.last_heartbeat = now
    node.registered_at = now
    node.save(update_fields=[*(r.capacity_field for r in RESOURCES), "labels", "agent_info", "last_heartbeat",
                             "registered_at"])
    if node.status == NodeStatus.ONLINE:
        NodeEvent.objects.create(node=node, from_status=node.status, to_status=node.status,
                                 reason="Rejoined", message="Agent registered again.")
        nodes_changed([node])
    else:
        set_status(node, NodeStatus.ONLINE, reason="Rejoined", message="Agent registered again.")
    hooks.placement_wanted()
    log.info("node rejoined", extra={"node": name, "node_id": node.pk})
    return node, token


@transaction.atomic
def set_draining(*, node_id: int, draining: bool, by: str = "") -> Node:
    """Cordon (no new placements; running tasks finish) or uncordon a node; `by`: who did it."""
    node = Node.objects.select_for_update().get(pk=node_id)
    if node.draining != draining:
        node.draining = draining
        node.save(update_fields=["draining"])
        verb = "Drained" if draining else "Undrained"
        NodeEvent.objects.create(node=node, from_status=node.status, to_status=node.status, reason=verb,
                                 message=f"{verb} by {by}." if by else "")
        nodes_changed([node])
        if not draining:
            hooks.placement_wanted()
    return node


@transaction.atomic
def forget_node(*, node_id: int, by: str = "") -> bool:
    """An operator removes a node for good (admin delete or "forget"): it goes OFFLINE and what it
    holds is requeued, as on node loss (answered by `tasks` through `hooks.releasing_node`), then the
    row goes, in one transaction. Its name is free for a new registration; its agent, refused with
    its old token, registers again as a new node. Returns whether there was a node."""
    hooks.releasing_node(node_id)
    deleted, _ = Node.objects.filter(pk=node_id).delete()
    if deleted:
        log.info("node forgotten", extra={"node_id": node_id, "by": by})
    return bool(deleted)
