"""Organization and team names.

An organization's name follows the project-name rule (PEP 508, normalized as PEP 503), as the
public index requires; packages/names.py holds that rule for projects, but this app sits below
packages, so the one call is repeated here rather than imported upward.
"""

from __future__ import annotations

from packaging.utils import InvalidName, canonicalize_name

MAX_LENGTH = 50
_TEAM_FORBIDDEN_EDGES = " /._-"


def normalize_organization_name(name: str) -> str:
    """The normalized form; raises InvalidName for a name no organization may have."""
    if len(name) > MAX_LENGTH:
        raise InvalidName(f"{name!r} is longer than {MAX_LENGTH} characters")
    return canonicalize_name(name, validate=True)


def lookup_organization_name(name: str) -> str | None:
    """The normalized form of any spelling a URL sends, or None for an impossible name (so NUL
    bytes and the like never reach a query)."""
    try:
        return normalize_organization_name(name)
    except InvalidName:
        return None


def normalize_team_name(name: str) -> str:
    """Lowercased; raises InvalidName unless the name is 1-50 printable characters without `/`
    that neither start nor end with a space, `.`, `_` or `-` (the public index's rule)."""
    if (
        not name
        or len(name) > MAX_LENGTH
        or "/" in name
        or not name.isprintable()
        or name[0] in _TEAM_FORBIDDEN_EDGES
        or name[-1] in _TEAM_FORBIDDEN_EDGES
    ):
        raise InvalidName(f"{name!r} is not a valid team name")
    return name.lower()
