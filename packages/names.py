"""Project names: the only place that normalizes or validates one (PEP 503, PEP 508)."""

from __future__ import annotations

import sys

from packaging.utils import InvalidName, NormalizedName, canonicalize_name


def normalize_name(name: str) -> NormalizedName:
    """PEP 503 normalized form; raises InvalidName for anything PEP 508 does not allow."""
    return canonicalize_name(name, validate=True)


def lookup_name(name: str) -> NormalizedName | None:
    """The normalized form of any spelling a URL or client sends, or None for a name no project
    can have (every project's name passed normalize_name). Invalid names, NUL bytes included,
    never reach a query: PostgreSQL refuses NUL in a string, and an invalid name's
    "normalized" form would be a redirect to itself (`/simple/%ff/`)."""
    try:
        return normalize_name(name)
    except InvalidName:
        return None


def same_name(first: str, second: str) -> bool:
    """Whether two spellings name the same project (PEP 503)."""
    return canonicalize_name(first) == canonicalize_name(second)


def is_valid_name(name: str) -> bool:
    try:
        normalize_name(name)
    except InvalidName:
        return False
    return True


def sdist_name_prefix(name: str) -> str:
    """The PEP 625 spelling of a name at the start of an sdist filename: normalized, with `_`."""
    return normalize_name(name).replace("-", "_")


def ultranormalize_name(name: str) -> str:
    """PyPI's confusable form: lowercase, fold the look-alikes l/i -> 1 and o -> 0, and drop
    `.`, `_` and `-`. Two names with the same form are too similar to coexist."""
    folded = name.lower().translate(_CONFUSABLES)
    return "".join(c for c in folded if c not in "._-")


_CONFUSABLES = str.maketrans({"l": "1", "i": "1", "o": "0"})


def is_stdlib_name(name: str) -> bool:
    """A new project may not take the name of a standard library module (PyPI's rule), so that
    `pip install asyncio` cannot shadow the real one."""
    return normalize_name(name) in _STDLIB_NAMES


_STDLIB_NAMES = frozenset(canonicalize_name(m) for m in sys.stdlib_module_names)
