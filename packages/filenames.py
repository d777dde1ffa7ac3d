"""Distribution filenames: the only place that parses one or decides whether it fits a release.

Current rules (PEP 427/491 wheels with normalized names, PEP 625 `.tar.gz` sdists) apply by
default. With ACCEPT_LEGACY_FILENAMES, names that older tools produced and PyPI once took
(`.zip` sdists, `MarkupSafe-2.1.5.tar.gz`) pass when they parse and match the project, so an
existing index's files can move in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings
from packaging.tags import Tag
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_version,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from packages.names import same_name, sdist_name_prefix

SDIST_EXTENSIONS = (".tar.gz", ".zip")
WHEEL_EXTENSION = ".whl"
MAX_FILENAME_LENGTH = 255


class FilenameError(ValueError):
    """A filename PyPI would refuse; the message is what the uploader sees."""


@dataclass(frozen=True)
class ParsedFilename:
    name: str
    version: Version
    tags: frozenset[Tag]
    is_wheel: bool


def check_characters(filename: str) -> None:
    if any(ord(c) < 32 or ord(c) == 127 for c in filename):
        raise FilenameError(
            "Cannot upload a file with non-printable characters (ordinals 0-31) "
            "or the DEL character (ordinal 127) in the name."
        )
    if "/" in filename or "\\" in filename:
        raise FilenameError("Cannot upload a file with '/' or '\\' in the name.")
    if len(filename) > MAX_FILENAME_LENGTH:
        raise FilenameError(f"Filename is too long: '{filename}'")


def check_extension(filename: str, *, filetype: str) -> None:
    if filename.endswith(WHEEL_EXTENSION):
        expected = "bdist_wheel"
    elif filename.endswith(SDIST_EXTENSIONS):
        expected = "sdist"
    else:
        raise FilenameError(
            "Invalid file extension: Use .tar.gz, .whl or .zip extension. "
            "See https://www.python.org/dev/peps/pep-0527 and "
            "https://peps.python.org/pep-0715/ for more information"
        )
    if expected != filetype:
        ext = WHEEL_EXTENSION if expected == "bdist_wheel" else filename.rsplit(".", 2)[-1]
        raise FilenameError(
            f"Invalid file extension: Extension {ext} is invalid for filetype {filetype}. "
            "See https://www.python.org/dev/peps/pep-0527 for more information."
        )


def parse_filename(filename: str) -> ParsedFilename:
    """Parse with `packaging`; raises FilenameError with PyPI's wording."""
    if filename.endswith(WHEEL_EXTENSION):
        try:
            name, version, _build, tags = parse_wheel_filename(filename)
        except (InvalidWheelFilename, InvalidVersion) as exc:
            raise FilenameError(str(exc)) from None
        return ParsedFilename(name=name, version=version, tags=tags, is_wheel=True)
    try:
        name, version = parse_sdist_filename(filename)
    except (InvalidSdistFilename, InvalidVersion):
        raise FilenameError(f"Invalid source distribution filename: {filename}") from None
    return ParsedFilename(name=name, version=version, tags=frozenset(), is_wheel=False)


def check_sdist_filename(filename: str, *, project_name: str, version: str) -> None:
    """Warehouse check 20: the sdist filename parses, names the project, and is exact PEP 625."""
    parsed = parse_filename(filename)
    prefix = sdist_name_prefix(project_name)
    if not same_name(parsed.name, project_name):
        raise FilenameError(f"Start filename for '{project_name}' with '{prefix}'.")
    _check_version_matches(parsed.version, version)
    if settings.ACCEPT_LEGACY_FILENAMES:
        return
    expected = f"{prefix}-{parsed.version}.tar.gz"
    if filename != expected:
        raise FilenameError(f"Filename '{filename}' is invalid, should be '{expected}'.")


def check_wheel_filename(filename: str, *, project_name: str, version: str) -> None:
    """Warehouse check 21: parse, platform tags, normalized name, then version."""
    parsed = parse_filename(filename)
    for tag in parsed.tags:
        if not is_allowed_platform(tag.platform):
            raise FilenameError(
                f"Binary wheel '{filename}' has an unsupported platform tag '{tag.platform}'."
            )
    expected_name = sdist_name_prefix(project_name)
    if not same_name(parsed.name, project_name):
        raise FilenameError(f"Start filename for '{project_name}' with '{expected_name}'.")
    given_name = filename.split("-", 1)[0]
    if given_name != expected_name and not settings.ACCEPT_LEGACY_FILENAMES:
        raise FilenameError(
            f"Filename '{filename}' should contain the normalized project name "
            f"'{expected_name}', not '{given_name}'."
        )
    _check_version_matches(parsed.version, version)


def _check_version_matches(filename_version: Version, form_version: str) -> None:
    if canonicalize_version(filename_version) != canonicalize_version(form_version):
        raise FilenameError(
            f"Version in filename should be '{form_version}' not '{filename_version}'."
        )


def storage_path(*, blake2_256: str, filename: str) -> str:
    """Content-addressed key, as PyPI lays out its files host."""
    return f"{blake2_256[:2]}/{blake2_256[2:4]}/{blake2_256[4:]}/{filename}"


# PyPI's allow-list of wheel platform tags (reference section 2).
_ARCHES = r"(x86_64|i686|aarch64|armv7l|ppc64le|s390x|riscv64)"
_PLATFORM_PATTERNS = [
    r"any",
    r"win32|win_amd64|win_arm64|win_ia64",
    r"manylinux1_(x86_64|i686)",
    r"manylinux2010_(x86_64|i686)",
    r"manylinux2014_(x86_64|i686|aarch64|armv7l|ppc64|ppc64le|s390x)",
    rf"manylinux_\d+_\d+_({_ARCHES[1:-1]}|ppc64)",
    rf"musllinux_\d+_\d+_{_ARCHES}",
    r"linux_(armv6l|armv7l)",
    r"macosx_10_\d+_(x86_64|i386|ppc|ppc64|intel|fat|fat3|fat32|fat64|universal|universal2|arm64)",
    r"macosx_(1[1-5]|26)_0_(x86_64|arm64|universal2)",
    r"ios_\d+_\d+_(arm64|x86_64)_(iphoneos|iphonesimulator)",
    r"android_\d+_(arm64_v8a|armeabi_v7a|x86_64|x86)",
    r"pyemscripten_\d+_\d+_wasm32",
]
_PLATFORM_RE = re.compile("|".join(f"(?:{p})" for p in _PLATFORM_PATTERNS))


def is_allowed_platform(platform: str) -> bool:
    return _PLATFORM_RE.fullmatch(platform) is not None
