from __future__ import annotations

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _isolated_state(settings, tmp_path):
    """Each test gets its own storage folder and an empty cache (rendered pages are keyed by
    row ids, which restart with every test database)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "files"},
        },
    }
    cache.clear()
    yield
    cache.clear()
