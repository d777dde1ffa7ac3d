"""What every data-changing command of every app shares: who ran it, and counts in plain
English."""

from __future__ import annotations

import getpass
from argparse import ArgumentTypeError
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from accounts.actors import acting_as

ACTOR_MAX_LENGTH = 150  # JournalEntry.submitted_by_name


def os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # No login name and no passwd entry (some containers).
        return "unknown"


def _actor(value: str) -> str:
    value = value.strip()
    if not value or len(value) > ACTOR_MAX_LENGTH:
        raise ArgumentTypeError(f"give a name of 1 to {ACTOR_MAX_LENGTH} characters")
    return value


class ChangeCommand(BaseCommand):
    """A command whose journal rows and events name who ran it: `--actor NAME`, by default the
    operating system user. Subclasses write `add_arguments` and `handle` as usual."""

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.add_argument(
            "--actor",
            type=_actor,
            default=os_user(),
            help="Who is running this, as the journal and events record it (default: the "
            "operating system user)",
        )
        return parser

    def execute(self, *args: Any, **options: Any) -> str | None:
        with acting_as(options.get("actor") or os_user()):
            return super().execute(*args, **options)


def count_of(number: float, noun: str, plural: str = "") -> str:
    """ "1 file", "2 files", "0 files"; `plural` for nouns that take more than an "s"."""
    shown = f"{number:g}" if isinstance(number, float) else str(number)
    return f"{shown} {noun if number == 1 else plural or noun + 's'}"
