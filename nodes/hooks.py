"""Calls that go up from `nodes` to the layers above it. `nodes` never imports `tasks`: the layer
that reacts registers here when Django starts (`tasks.apps.TasksConfig.ready`), and `nodes` calls
the hook without knowing who answers.

    placement_wanted()        capacity may be free (a node joined, came back, was undrained)
    active_tasks(node)        the node's ASSIGNED/RUNNING tasks as the API shows them
    releasing_node(node_id)   the node is being removed: end what runs there as node loss does
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Hook:
    """Registered callables, called in registration order; returns their results."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._receivers: list[Callable[..., Any]] = []

    def register(self, receiver: Callable[..., Any]) -> Callable[..., Any]:
        if receiver not in self._receivers:
            self._receivers.append(receiver)
        return receiver

    def __call__(self, *args: Any, **kwargs: Any) -> list[Any]:
        return [receiver(*args, **kwargs) for receiver in self._receivers]

    def first(self, *args: Any, default: Any = None, **kwargs: Any) -> Any:
        """The first receiver's answer (for a hook that one layer answers), or `default`."""
        return self._receivers[0](*args, **kwargs) if self._receivers else default


placement_wanted = Hook("placement_wanted")
active_tasks = Hook("active_tasks")
releasing_node = Hook("releasing_node")
