from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from kopilka.api.idempotency import RETENTION, purge


class Command(BaseCommand):
    help = "Delete stored Idempotency-Key answers older than the retention (default 24 hours)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than-hours", type=int, default=int(RETENTION.total_seconds() // 3600),
            help="delete records created more than this many hours ago (default: 24)",
        )

    def handle(self, *args, older_than_hours, **options):
        if older_than_hours < 1:
            raise CommandError("--older-than-hours must be at least 1.")
        deleted = purge(timedelta(hours=older_than_hours))
        self.stdout.write(f"Deleted {deleted} idempotency records.")
