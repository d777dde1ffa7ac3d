"""manage.py import_devpi DIR [--index USER/INDEX ...] [--trust-emails] [--dry-run] [--every N]
[--actor NAME]"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import CommandError, CommandParser

from accounts.management.base import ChangeCommand, count_of
from backups.devpi import DevpiExportError, import_devpi


class Command(ChangeCommand):
    help = (
        "Import a directory written by devpi-server's devpi-export: its users (devpi's argon2 "
        "password hashes kept; older hashes become unusable passwords to reset; addresses "
        "unverified unless --trust-emails), and the projects of its private indexes, each "
        "file checked against the export's hashes and then uploaded as its index's owner "
        "(every upload check, journal entry and page). A project whose file is damaged or "
        "refused is left out whole. devpi's indexes share this index's one namespace: a name "
        "in two indexes with different files is an error (choose with --index). Users and "
        "files already here are left as they are, so it can run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", type=Path, help="A directory written by devpi-export")
        parser.add_argument(
            "--index",
            action="append",
            dest="indexes",
            metavar="USER/INDEX",
            help="Import this devpi index (repeat for more); default: every non-mirror index",
        )
        parser.add_argument(
            "--trust-emails",
            action="store_true",
            help="Record devpi's addresses as verified (devpi never verified them)",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Run the whole import, every check and upload included, then roll it back "
            "and store nothing",
        )
        parser.add_argument("--every", type=int, default=100, help="Progress every N files")

    def handle(
        self,
        *args,
        directory: Path,
        indexes: list[str] | None,
        trust_emails: bool,
        dry_run: bool,
        every: int,
        **options,
    ):
        if not directory.is_dir():
            raise CommandError(f"{directory} is not a directory")
        try:
            report = import_devpi(
                directory=directory,
                indexes=indexes,
                dry_run=dry_run,
                trust_emails=trust_emails,
                write=self.stdout.write,
                progress=self.stderr.write,
                every=every,
            )
        except DevpiExportError as exc:
            raise CommandError(str(exc)) from exc
        verb = "Would import" if dry_run else "Imported"
        self.stdout.write(
            f"{verb} {count_of(report.users_created, 'new user')} "
            f"({len(report.users_existing)} already here), "
            f"{count_of(report.projects_imported, 'project')} with "
            f"{count_of(report.files_created, 'new file')} "
            f"({report.files_existing} already here, {report.files_skipped} skipped)"
            f"{' (dry run: nothing was written)' if dry_run else ''}."
        )
        if report.unusable_passwords:
            self.stdout.write(
                "No usable password (they must reset it): " + ", ".join(report.unusable_passwords)
            )
        if report.projects_failed:
            verb = "would not import" if dry_run else "could not be imported, nothing of them kept"
            raise CommandError(
                f"{count_of(len(report.projects_failed), 'project')} {verb}: "
                f"{', '.join(report.projects_failed)}",
                returncode=1,
            )
