"""Project names: the only place that normalizes or validates one (PEP 503, PEP 508)."""

from __future__ import annotations

from packaging.utils import InvalidName, NormalizedName, canonicalize_name


def normalize_name(name: str) -> NormalizedName:
    """PEP 503 normalized form; raises InvalidName for anything PEP 508 does not allow."""
    return canonicalize_name(name, validate=True)


def is_valid_name(name: str) -> bool:
    try:
        normalize_name(name)
    except InvalidName:
        return False
    return True


def sdist_name_prefix(name: str) -> str:
    """The PEP 625 spelling of a name at the start of an sdist filename: normalized, with `_`."""
    return normalize_name(name).replace("-", "_")
