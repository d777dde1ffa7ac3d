"""Secrets made by a form (API tokens, recovery codes) come back through POST-redirect-GET:
shown on the page the POST redirects to, once, and never again on a reload."""

from __future__ import annotations

import pytest

from accounts.tokens import find_api_token
from tests.accounts.conftest import PASSWORD, log_in, totp_code
from tests.factories import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(client, fast_hashes):
    user = make_user("alice")
    user.set_password(PASSWORD)
    user.save()
    assert log_in(client, "alice").status_code == 302
    return user


def test_new_token_is_shown_once_after_a_redirect(client, alice, settings):
    settings.SITE_URL = "https://index.example"
    response = client.post("/manage/account/token/new/", {"description": "ci"})
    assert response.status_code == 302 and response.url == "/manage/account/token/"
    page = client.get(response.url)
    plaintext = page.context["issued"]["plaintext"]
    assert find_api_token(plaintext).user == alice
    html = page.content.decode()
    assert f'<code class="api-token" id="new-token">{plaintext}</code>' in html
    assert 'data-copy="new-token"' in html
    assert "no-store" in page["Cache-Control"]
    again = client.get("/manage/account/token/")
    assert again.context["issued"] is None
    assert plaintext not in again.content.decode()


def test_token_page_shows_the_upload_url_with_pypirc_and_uv_examples(client, alice, settings):
    settings.SITE_URL = "https://index.example"
    html = client.get("/manage/account/token/").content.decode()
    assert '<code id="upload-url">https://index.example/legacy/</code>' in html
    assert "repository = https://index.example/legacy/\nusername = __token__" in html
    assert "uv publish --publish-url https://index.example/legacy/ --token" in html


def test_totp_set_up_redirects_to_the_recovery_codes_shown_once(client, alice):
    secret = client.get("/manage/account/totp-provision").context["secret"]
    response = client.post("/manage/account/totp-provision", {"totp_value": totp_code(secret)})
    assert response.status_code == 302 and response.url == "/manage/account/recovery-codes/"
    page = client.get(response.url)
    codes = page.context["codes"]
    assert len(codes) >= 8 and all(code in page.content.decode() for code in codes)
    again = client.get("/manage/account/recovery-codes/").content.decode()
    assert not any(code in again for code in codes)


def test_new_recovery_codes_are_shown_once_after_a_redirect(client, alice):
    secret = client.get("/manage/account/totp-provision").context["secret"]
    client.post("/manage/account/totp-provision", {"totp_value": totp_code(secret)})
    client.get("/manage/account/recovery-codes/")
    response = client.post("/manage/account/recovery-codes/")
    assert response.status_code == 302 and response.url == "/manage/account/recovery-codes/"
    codes = client.get(response.url).context["codes"]
    assert codes
    assert "codes" not in client.get("/manage/account/recovery-codes/").context
