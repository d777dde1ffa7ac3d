from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.proxy.upstream_server import StaticUpstream


@pytest.fixture
def upstream(settings) -> Iterator[StaticUpstream]:
    """A static upstream index, and this index pointed at it with the proxy on."""
    server = StaticUpstream().start()
    settings.UPSTREAM_INDEX_URL = server.url
    settings.UPSTREAM_INDEX_USERNAME = ""
    settings.UPSTREAM_INDEX_PASSWORD = ""
    settings.UPSTREAM_TIMEOUT = 5
    settings.UPSTREAM_PAGE_TTL = 600
    settings.MIN_RELEASE_AGE = 0
    try:
        yield server
    finally:
        server.stop()
