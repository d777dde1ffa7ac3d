"""Versions as URLs and rows name them (PEP 440): the one place that canonicalizes them.

Apart from packages/releases.py so that readers of versions (the JSON API) need not import
the module that writes releases.
"""

from __future__ import annotations

from packaging.utils import canonicalize_version
from packaging.version import Version


def canonical_version(version: str) -> str:
    # "1.0", "1.0.0" and "1.0-RC1"/"1.0rc1" pairs name one release, as on PyPI.
    return canonicalize_version(version)


def lookup_version(version: str) -> str | None:
    """The canonical form of a version a URL names, or None when no release can have it: every
    release's version parsed as PEP 440 on upload. Keeps NUL bytes out of queries."""
    try:
        return canonicalize_version(Version(version))
    except ValueError:  # InvalidVersion, or more digits than int() converts
        return None
