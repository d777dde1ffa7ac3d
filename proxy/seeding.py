"""What `manage.py fetch_upstream` downloads: projects (and, when pinned, versions) named by
requirements, a requirements file, or a lock file (PEP 751 pylock.toml, uv.lock). Nothing is
resolved here: each named project's files, all of them or the pinned version's, go into the
cache, so an air-gapped deployment can be seeded beforehand."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from packages.names import lookup_name
from packages.releases import canonical_version


class SeedError(ValueError):
    pass


@dataclass(frozen=True)
class Wanted:
    name: str  # normalized
    versions: frozenset[str]  # canonical versions; empty: every version


def from_requirements(lines: list[str]) -> list[Wanted]:
    """PEP 508 requirements; `name==version` pins a version, anything else takes them all.
    Comments, blank lines and pip options (`-r`, `--hash`, `-e`) are skipped."""
    wanted = []
    for raw in lines:
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        line = line.split(" --hash", 1)[0].rstrip(" \\")
        try:
            requirement = Requirement(line)
        except InvalidRequirement as exc:
            raise SeedError(f"not a requirement: {raw.strip()!r} ({exc})") from None
        name = lookup_name(requirement.name)
        if name is None:
            raise SeedError(f"not a project name: {requirement.name!r}")
        pins = [
            spec.version
            for spec in requirement.specifier
            if spec.operator in ("==", "===") and "*" not in spec.version
        ]
        wanted.append(Wanted(name, frozenset(canonical_version(v) for v in pins[:1])))
    return merge(wanted)


def from_lockfile(path: Path) -> list[Wanted]:
    """PEP 751 (`[[packages]]`) or uv.lock (`[[package]]`): every locked name and version."""
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SeedError(f"cannot read {path}: {exc}") from None
    entries = data.get("packages") or data.get("package") or []
    wanted = []
    for entry in entries if isinstance(entries, list) else []:
        name = lookup_name(str(entry.get("name", ""))) if isinstance(entry, dict) else None
        if name is None:
            continue
        source = entry.get("source", {})
        if isinstance(source, dict) and ("editable" in source or "virtual" in source):
            continue  # the project itself and local paths: nothing upstream
        version = entry.get("version")
        wanted.append(Wanted(name, frozenset([canonical_version(str(version))] if version else [])))
    if not wanted:
        raise SeedError(f"{path} lists no packages")
    return merge(wanted)


def merge(wanted: list[Wanted]) -> list[Wanted]:
    """One entry a name; a name wanted whole anywhere is wanted whole."""
    merged: dict[str, set[str] | None] = {}
    for item in wanted:
        if not item.versions:
            merged[item.name] = None
        elif item.name not in merged:
            merged[item.name] = set(item.versions)
        elif merged[item.name] is not None:
            merged[item.name] |= item.versions
    return [Wanted(name, frozenset(v or ())) for name, v in merged.items()]
