"""README keeps up with the code: every environment variable the code reads is in its
settings table, and every management command is in its commands table."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
# env("NAME"...), env_bool("NAME"...), env_int("NAME"...), os.environ.get("NAME"...), also
# with the name on the next line.
_ENV_READ = re.compile(
    r"""(?:\benv(?:_bool|_int)?|environ\.get)\(\s*f?["']([A-Z][A-Z0-9_]*)""", re.MULTILINE
)


def environment_variables() -> set[str]:
    names = set()
    for path in (ROOT / "pypi_site").glob("*.py"):
        names.update(_ENV_READ.findall(path.read_text()))
    return names


def test_the_scan_finds_the_settings_it_should():
    assert {"DATABASE_URL", "SITE_URL", "HOST", "PORT", "CONTENT_SECURITY_POLICY"} <= (
        environment_variables()
    )


def test_every_environment_variable_is_in_the_readme():
    missing = sorted(
        name
        for name in environment_variables()
        if f"`{name}`" not in README
        and f"`{name}=" not in README
        # RATE_LIMIT_<NAME> is documented as a family.
        and not (name == "RATE_LIMIT_" and "RATE_LIMIT_<NAME>" in README)
    )
    assert not missing, f"README's settings table lacks: {missing}"


def test_every_command_is_in_the_readme():
    commands = {path.stem for path in ROOT.glob("*/management/commands/[a-z]*.py")}
    assert "import_dists" in commands
    missing = sorted(c for c in commands if f"`{c}" not in README and f" `{c}`" not in README)
    assert not missing, f"README's commands table lacks: {missing}"
