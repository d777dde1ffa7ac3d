"""manage.py journal [--since SERIAL] [--limit N]"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from accounts.management.base import count_of
from packages.models import JournalEntry


class Command(BaseCommand):
    help = (
        "Print the change journal after a serial, oldest first, one change a line: serial, "
        "time, project, version, action, who (tab-separated), as mirrors follow it. Who is the "
        "site user, or for a manage.py command its --actor."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--since", type=int, default=0, help="Only changes with a higher serial"
        )
        parser.add_argument("--limit", type=int, default=0, help="At most this many lines")

    def handle(self, *args, since: int, limit: int, **options):
        entries = (
            JournalEntry.objects.filter(pk__gt=since)
            .order_by("pk")
            .values_list("pk", "submitted_date", "name", "version", "action", "submitted_by_name")
        )
        if limit:
            entries = entries[:limit]
        last = since
        count = 0
        for serial, date, name, version, action, username in entries.iterator(chunk_size=5000):
            fields = [str(serial), date.isoformat(), name, version, action, username or ""]
            self.stdout.write("\t".join(f.replace("\t", " ").replace("\n", " ") for f in fields))
            last, count = serial, count + 1
        self.stderr.write(f"{count_of(count, 'change')}, last serial {last}")
