"""Who made a change: a site user, or the person running a manage.py command.

A command has no site user, and the domain functions it calls should not each take its name,
so `acting_as` sets it for everything inside; journal rows, project events and users' history
all record `actor_name`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.contrib.auth.models import AbstractBaseUser

# Who runs the manage.py command in progress; set by `acting_as`, empty on the web.
_command_actor: ContextVar[str] = ContextVar("command_actor", default="")


@contextmanager
def acting_as(actor: str) -> Iterator[None]:
    """Record `actor` as who made every change inside: a command has no site user, and the
    domain functions it calls should not each take its name."""
    token = _command_actor.set(actor)
    try:
        yield
    finally:
        _command_actor.reset(token)


def actor_name(user: AbstractBaseUser | None) -> str:
    """The text kept as who made a change: a running command's actor (who ran it, even when it
    acts as a site user, as import_dists does), else the site user's name, else ""."""
    if actor := _command_actor.get():
        return actor
    return user.get_username() if user is not None and user.is_authenticated else ""
