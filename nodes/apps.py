"""Node registry and health: who the workers are, what they have, whether they are alive."""

from django.apps import AppConfig


class NodesConfig(AppConfig):
    name = "nodes"

    def ready(self) -> None:
        """Node tokens are `nodes`' to check: the plumbing's authentication asks through this."""
        from nodes.services import node_from_token
        from scheduler_site import authentication

        authentication.set_node_lookup(node_from_token)
