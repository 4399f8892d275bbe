"""`python manage.py runworker`: start this machine's agent (replaces Channels' command of that name,
which the project does not use). Parses options, builds the config, runs `agent.node_agent.NodeAgent`."""

from __future__ import annotations

import argparse
import sys

from django.core.management.base import BaseCommand, CommandError

from agent.config import ConfigError, build_config
from agent.isolation import IsolationError
from agent.node_agent import NodeAgent


class Command(BaseCommand):
    help = "Run the worker agent: register this node with the master and run the tasks it is given."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--master", help="the master's URL, e.g. http://10.0.0.1:8000 (SCHEDULER_MASTER)")
        parser.add_argument("--join-token", help=argparse.SUPPRESS)
        parser.add_argument("--join-token-file", help="a file holding the cluster join token "
                                                      "(SCHEDULER_JOIN_TOKEN_FILE; or the token itself in "
                                                      "SCHEDULER_JOIN_TOKEN)")
        parser.add_argument("--name", help="node name (SCHEDULER_NODE_NAME; default: the hostname)")
        parser.add_argument("--cpu", help="capacity in cores, fractions allowed (SCHEDULER_NODE_CPU; default: all)")
        parser.add_argument("--mem", help="capacity in MiB (SCHEDULER_NODE_MEM; default: all)")
        parser.add_argument("--labels", help="k=v,k2=v2 (SCHEDULER_NODE_LABELS)")
        parser.add_argument("--state-dir", help="where the agent keeps its identity, process records and "
                                                "output spool (SCHEDULER_STATE_DIR; default: "
                                                "~/.local/state/mini-scheduler/NAME)")
        parser.add_argument("--spool-max-mib", help="disk for output the master has not yet acknowledged "
                                                    "(SCHEDULER_SPOOL_MAX_MIB; default: 1024)")
        parser.add_argument("--exclusive-cpus", action="store_true", default=None,
                            help="give each task that asks for whole cores CPUs of its own, the agent and "
                                 "other tasks share the rest (SCHEDULER_EXCLUSIVE_CPUS=1; default: off, as "
                                 "several agents on one machine would hand out the same CPUs)")
        parser.add_argument("--task-user", help="run as root, start tasks as this unprivileged user "
                                                "(SCHEDULER_TASK_USER; default: scheduler-task, created if "
                                                "missing)")
        parser.add_argument("--work-dir", help="where tasks get their working directories, outside the state "
                                               "dir (SCHEDULER_WORK_DIR; default: a directory under "
                                               "/var/tmp/mini-scheduler, recorded in the state dir)")

    def handle(self, *args, **options) -> None:
        if options["join_token"]:
            raise CommandError("--join-token: every user of this machine can read a command line; pass the "
                               "token in SCHEDULER_JOIN_TOKEN or in a file (--join-token-file)")
        try:
            config = build_config(
                master=options["master"], join_token=None, join_token_file=options["join_token_file"],
                name=options["name"], cpu=options["cpu"], mem=options["mem"], labels=options["labels"],
                state_dir=options["state_dir"], spool_max_mib=options["spool_max_mib"],
                exclusive_cpus=options["exclusive_cpus"], task_user=options["task_user"],
                work_dir=options["work_dir"],
            )
            agent = NodeAgent(config)
        except (ConfigError, IsolationError) as error:
            raise CommandError(str(error)) from None
        sys.exit(agent.run())
