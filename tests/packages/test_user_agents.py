"""Upload clients' User-Agent headers, shown the way people read them."""

from __future__ import annotations

import pytest

from packages.events import record_project_event
from packages.models import File
from packages.rendering import describe_user_agent
from tests.factories import make_files, make_project, make_release, make_user

TWINE = (
    "twine/6.1.0 requests/2.32.3 requests-toolbelt/1.0.0 urllib3/2.2.3 CPython/3.11.4 "
    "Linux/6.1.0-28-amd64"
)
UV = (
    'uv/0.5.1 {"installer":{"name":"uv","version":"0.5.1"},"python":"3.12.1",'
    '"implementation":{"name":"CPython","version":"3.12.1"},"distro":{"name":"Debian"}}'
)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (TWINE, "twine 6.1.0 / CPython 3.11"),
        (UV, "uv 0.5.1 / CPython 3.12"),
        ("twine/5.0.0 PyPy/7.3.15", "twine 5.0.0 / PyPy 7.3"),
        ("python-requests/2.31.0", "python-requests 2.31.0"),
        ('uv/0.5.1 {"not json', "uv 0.5.1"),
        ("uv/0.5.1 []", "uv 0.5.1"),
        ("manage.py import_dists", "manage.py import_dists"),
        ("", ""),
        ("x" * 100, "x" * 59 + "…"),
    ],
)
def test_describe_user_agent(raw, shown):
    assert describe_user_agent(raw) == shown


@pytest.mark.django_db
def test_project_page_shows_the_client_not_the_raw_header(client):
    (file,) = make_files(make_release(make_project(), "1.0"), 1)
    File.objects.filter(pk=file.pk).update(uploaded_via=TWINE)
    page = client.get("/project/demo/").content.decode()
    assert f'title="{TWINE}">twine 6.1.0 / CPython 3.11</span>' in page
    assert page.count("requests-toolbelt") == 1  # only in the title


@pytest.mark.django_db
def test_project_history_shows_the_client_not_the_raw_header(client):
    owner = make_user("alice")
    project = make_project(owner=owner)
    record_project_event(
        project=project, tag="project:release:file:add", user=owner, uploaded_via=UV
    )
    client.force_login(owner)
    page = client.get("/manage/project/demo/history/").content.decode()
    assert ">uv 0.5.1 / CPython 3.12</span>" in page
