"""`python manage.py sweepnodes [--once] [--interval S]`: the controller loop. Each pass marks
silent nodes UNHEALTHY, then OFFLINE with their tasks requeued, and runs a placement pass as the
safety net. Several sweepers may run at once (the services lock and re-check)."""

from __future__ import annotations

import logging
import signal
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections
from prometheus_client import start_http_server

from tasks.sweep import sweep_once

log = logging.getLogger("nodes.sweeper")


class Command(BaseCommand):
    help = "Watch node heartbeats: UNHEALTHY, then OFFLINE with requeue; and place pending tasks."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true", help="one pass, then exit")
        parser.add_argument("--metrics-port", type=int, default=None,
                            help="serve this process's Prometheus metrics on this port")
        parser.add_argument("--interval", type=float, default=None,
                            help=f"seconds between passes (default SCHEDULER_SWEEP_INTERVAL, "
                                 f"{settings.SCHEDULER_SWEEP_INTERVAL:g})")

    def handle(self, *args, **options) -> None:
        interval = options["interval"] or settings.SCHEDULER_SWEEP_INTERVAL
        if interval <= 0:
            raise ValueError("--interval must be positive")
        if options["metrics_port"]:
            start_http_server(options["metrics_port"])
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        log.info("sweeper started", extra={"interval": interval, "unhealthy_after": settings.SCHEDULER_UNHEALTHY_AFTER,
                                           "offline_after": settings.SCHEDULER_OFFLINE_AFTER})
        while not stop.is_set():
            started = time.monotonic()
            try:
                summary = sweep_once()
                if summary["unhealthy"] or summary["requeued"] or summary["placed"]:
                    log.info("sweep", extra=summary)
            except Exception:
                log.exception("sweep failed; retrying next interval")
                close_old_connections()
            if options["once"]:
                break
            stop.wait(max(0.0, interval - (time.monotonic() - started)))
        log.info("sweeper stopped")
