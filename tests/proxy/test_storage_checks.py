"""Mirrored files in storage checks: absent until downloaded is normal, wrong bytes are not."""

from __future__ import annotations

import io
import os

import pytest
from django.core.files.storage import storages
from django.core.management import CommandError, call_command

from packages.models import File

pytestmark = pytest.mark.django_db


def verify() -> str:
    out = io.StringIO()
    call_command("verify_storage", stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_verify_storage_accepts_never_downloaded_mirrored_files(client, upstream):
    entry = upstream.add_wheel("up-lib", "1.0")
    client.get("/simple/up-lib/")
    os.makedirs(storages["default"].location, exist_ok=True)
    verify()  # nothing downloaded yet: no problem
    file = File.objects.get()
    assert b"".join(client.get(f"/packages/{file.path}").streaming_content) == entry.body
    verify()
    path = storages["default"].path(file.path)
    with open(path, "r+b") as handle:
        handle.write(b"XX")
    with pytest.raises(CommandError):
        call_command("verify_storage", stdout=io.StringIO(), stderr=io.StringIO())
