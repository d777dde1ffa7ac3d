from __future__ import annotations

import pytest

from tests.factories import make_token, make_user, post_upload, wheel_upload
from tests.webhooks.receiver import running_receiver

SECRET = "a-receivers-secret-of-some-length"


@pytest.fixture
def embedded(settings, monkeypatch):
    """Jobs inline after commit (no Redis), loopback receivers allowed, no pauses."""
    from webhooks import jobs

    settings.REDIS_URL = ""
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    monkeypatch.setattr(jobs, "INLINE_PAUSE_SECONDS", 0)


@pytest.fixture
def owner(client, embedded, django_capture_on_commit_callbacks):
    """alice owns demo, with a 1.0 wheel uploaded for real."""
    user = make_user("alice")
    user.token = make_token(user)
    with django_capture_on_commit_callbacks(execute=True):
        assert post_upload(client, wheel_upload("demo", "1.0"), user.token).status_code == 200
    return user


@pytest.fixture
def receiver():
    with running_receiver(SECRET) as running:
        yield running
