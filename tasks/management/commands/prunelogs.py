"""`python manage.py prunelogs [--days N] [--dry-run]`: delete the stored output of tasks that
finished more than SCHEDULER_LOG_RETENTION_DAYS ago (run it daily, e.g. from cron), and history
rows past their tier's keep (the sweeper prunes those as it goes; this covers a cluster without one)."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from tasks.history.recorder import prune_history
from tasks.logs.retention import prune_finished_logs


class Command(BaseCommand):
    help = "Delete logs of tasks finished longer ago than the retention period."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, default=None,
                            help=f"retention in days (default SCHEDULER_LOG_RETENTION_DAYS, "
                                 f"{settings.SCHEDULER_LOG_RETENTION_DAYS})")
        parser.add_argument("--dry-run", action="store_true", help="count, delete nothing")

    def handle(self, *args, **options) -> None:
        days = settings.SCHEDULER_LOG_RETENTION_DAYS if options["days"] is None else options["days"]
        tasks, chunks = prune_finished_logs(days=days, dry_run=options["dry_run"])
        verb = "would delete" if options["dry_run"] else "deleted"
        self.stdout.write(f"{verb} {chunks} chunk(s) of {tasks} task(s) finished more than {days} day(s) ago")
        if not options["dry_run"]:
            self.stdout.write(f"deleted {prune_history()} history row(s) past their keep")
