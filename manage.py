#!/usr/bin/env python
"""Django's command-line utility for mini-scheduler."""

import os
import sys


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "demo":  # a launcher of processes, not a Django command
        from scheduler_site.demo import main as demo

        sys.exit(demo(sys.argv[2:]))
    if len(sys.argv) > 1 and sys.argv[1] == "runworker":
        # A worker machine runs the agent without the master's settings (secrets, database).
        os.environ["DJANGO_SETTINGS_MODULE"] = "scheduler_site.settings_agent"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scheduler_site.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
