"""An upload's "description renders" check (Warehouse check 10) and the job that renders the
new release's page share one rendering: reStructuredText costs tens of milliseconds."""

from __future__ import annotations

import pytest
import readme_renderer.rst

from packages.models import Release
from tests.factories import make_token, make_user, post_upload, sdist_upload, wheel_upload

pytestmark = pytest.mark.django_db

README = "Demo\n====\n\nA *demo* package, rendered once per upload of {version}.\n"


@pytest.fixture
def rst_renders(monkeypatch) -> list[str]:
    calls: list[str] = []
    render = readme_renderer.rst.render

    def counting_render(text, *args, **kwargs):
        calls.append(text)
        return render(text, *args, **kwargs)

    monkeypatch.setattr(readme_renderer.rst, "render", counting_render)
    return calls


def test_check_and_render_job_render_a_description_once(
    client, django_capture_on_commit_callbacks, rst_renders, settings
):
    settings.REDIS_URL = ""  # The embedded default: the job runs inline after the commit.
    token = make_token(make_user("alice"))
    text = README.format(version="1.0")
    upload = wheel_upload("demo", "1.0", fields={"description": text})
    with django_capture_on_commit_callbacks(execute=True):
        assert post_upload(client, upload, token).status_code == 200
    release = Release.objects.get()
    assert "<em>demo</em>" in release.description_html
    assert rst_renders == [text]
    # A second file of the release: its check finds the same description rendered.
    sdist = sdist_upload("demo", "1.0", fields={"description": text})
    with django_capture_on_commit_callbacks(execute=True):
        assert post_upload(client, sdist, token).status_code == 200
    assert rst_renders == [text]


def test_a_description_that_fails_to_render_is_still_refused_every_time(client, rst_renders):
    token = make_token(make_user("alice"))
    broken = "Title\n===\n\n.. unknown-directive::\n"
    for _ in range(2):
        response = post_upload(
            client, wheel_upload("demo", "1.0", fields={"description": broken}), token
        )
        assert response.status_code == 400
        assert "The description failed to render" in response.reason_phrase
    assert not Release.objects.exists()
