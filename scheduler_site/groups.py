"""Channel-layer group names, built in this one place."""

EVENTS = "events"  # browsers watching the cluster: task transitions, node changes


def task_group(task_id: int) -> str:
    """Browsers following one task's log and status."""
    return f"task.{task_id}"


def node_group(node_id: int) -> str:
    """The agent connection(s) of one node: nudges to reconcile now."""
    return f"node.{node_id}"
