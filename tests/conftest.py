from __future__ import annotations

import pytest
from django.core.cache import cache

from packages.responses import local_pages


@pytest.fixture(autouse=True)
def _isolated_state(settings, tmp_path):
    """Each test gets its own storage folder and empty page caches (rendered pages are keyed
    by row ids and serials, which restart with every test database)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "files"},
        },
        # Plain names, so pages render without a prior collectstatic (hashed names are
        # tested in tests/packages/test_pages.py).
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    # Links in pages and mail point at the test client's host (settings derive these three
    # from SITE_URL when they are read, before any test can set it).
    settings.SITE_URL = "http://testserver"
    settings.FILES_BASE_URL = "http://testserver/packages/"
    settings.HELP_URL = "http://testserver/help/"
    cache.clear()
    local_pages.clear()
    yield
    cache.clear()
    local_pages.clear()
