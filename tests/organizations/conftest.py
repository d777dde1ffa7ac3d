from __future__ import annotations

import pytest
from django.utils import timezone


@pytest.fixture
def fast_hashes(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def logged_in(client, user):
    """A session that has just given its password (no re-authentication prompt)."""
    client.force_login(user)
    session = client.session
    session["accounts.authenticated_at"] = timezone.now().timestamp()
    session.save()
    return client
