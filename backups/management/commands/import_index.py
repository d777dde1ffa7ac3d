"""manage.py import_index DIR [--verify] [--dry-run] [--every N] [--actor NAME]"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import CommandError, CommandParser

from accounts.management.base import ChangeCommand, count_of
from backups.importing import import_index
from backups.layout import BackupError


class Command(ChangeCommand):
    help = (
        "Load a directory written by export_index into this (freshly migrated, project-less) "
        "database and this storage: all rows in one transaction, bytes through the verified "
        "store; nothing is left behind if it fails. Users already here under other names are "
        "left alone; an exported username that exists here is refused. The journal is loaded "
        "as it was, so --actor is not recorded."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", type=Path, help="A directory written by export_index")
        parser.add_argument(
            "--verify",
            action="store_true",
            help="Before committing, read everything back: row counts, each table's sha256 "
            "and every object's size and sha256 must match the export",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Check the export (every checksum, every row loaded then rolled back) and this "
            "database, and change nothing",
        )
        parser.add_argument("--every", type=int, default=1000, help="Progress every N objects")

    def handle(self, *args, directory: Path, verify: bool, dry_run: bool, every: int, **options):
        try:
            report = import_index(
                directory=directory,
                dry_run=dry_run,
                verify=verify,
                write=self.stderr.write,
                every=every,
            )
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        rows = sum(report.rows.values())
        what = f"{count_of(rows, 'row')} and {count_of(report.objects, 'object')}"
        if dry_run:
            self.stdout.write(f"Would import {what} ({report.bytes} bytes); the export checks out.")
            return
        self.stdout.write(
            f"Imported {what} ({report.bytes} bytes, {report.stored} newly stored)"
            f"{', verified' if report.verified else ''}."
        )
