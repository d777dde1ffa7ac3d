from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.utils import timezone

from accounts.models import ApiToken
from packages.models import File, Project, ProjectEvent
from tests.factories import make_project, make_user, post_upload, wheel_upload
from tests.oidc_issuer import github_claims, gitlab_claims
from trusted_publishing.models import Kind, OidcIssuer, PendingPublisher, PublisherToken
from trusted_publishing.publishers import add_pending_publisher, add_publisher

pytestmark = pytest.mark.django_db


def mint(client, token: str):
    return client.post(
        "/_/oidc/mint-token", json.dumps({"token": token}), content_type="application/json"
    )


def refusal_code(response) -> str:
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["message"] == "Token request failed"
    return body["errors"][0]["code"]


@pytest.fixture
def owner():
    return make_user("alice")


@pytest.fixture
def project(owner):
    return make_project("sampleproject", owner=owner)


@pytest.fixture
def publisher(project, owner, github):
    return add_publisher(
        project=project,
        by=owner,
        kind=Kind.GITHUB,
        owner="octo-org",
        repository="sampleproject",
        owner_id="1234",
        workflow="release.yml",
    )


def test_audience_is_derived_from_site_url(client, settings):
    assert client.get("/_/oidc/audience").json() == {"audience": "testserver"}
    settings.TRUSTED_PUBLISHING_AUDIENCE = "index.example"
    assert client.get("/_/oidc/audience").json() == {"audience": "index.example"}


def test_github_token_mints_a_scoped_15_minute_token_and_records_the_event(
    client, github, publisher, audience, project, owner
):
    before = timezone.now()
    response = mint(client, github.token(audience=audience, **github_claims()))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["success"] is True
    token = ApiToken.objects.get()
    assert body["token"].startswith("pypi-") or body["token"]
    assert token.user == owner and token.scoped
    assert list(token.projects.all()) == [project]
    assert timedelta(minutes=14) < token.expires - before <= timedelta(minutes=15, seconds=5)
    assert abs(body["expires"] - token.expires.timestamp()) < 2
    link = PublisherToken.objects.get(token_identifier=token.identifier)
    assert link.publisher == publisher
    assert link.claims["repository"] == "octo-org/sampleproject"
    event = ProjectEvent.objects.get(project=project, tag="project:short_lived_api_token:added")
    assert event.additional["workflow"].startswith("octo-org/sampleproject/.github/workflows/")
    assert event.additional["ref"] == "refs/tags/v1.0"
    assert event.additional["sha"] == "0123456789abcdef0123456789abcdef01234567"
    assert "GitHub octo-org/sampleproject release.yml" in event.additional["publisher"]
    # The owners' history page shows it.
    client.force_login(owner)
    page = client.get(f"/manage/project/{project.name}/history/")
    assert b"project:short_lived_api_token:added" in page.content
    assert b"0123456789abcdef0123456789abcdef01234567" in page.content


def test_es256_keys_are_accepted(client, github, publisher, audience):
    response = mint(client, github.token(audience=audience, kid="ec-1", **github_claims()))
    assert response.status_code == 200, response.content


def test_minted_token_uploads_to_its_project_only_and_dies_after_15_minutes(
    client, github, publisher, audience, owner
):
    make_project("otherproject", owner=owner)
    minted = mint(client, github.token(audience=audience, **github_claims())).json()["token"]
    refused = post_upload(client, wheel_upload("otherproject", "1.0"), minted)
    assert refused.status_code == 403
    assert b"project-scoped token is not valid" in refused.content
    refused_new = post_upload(client, wheel_upload("brandnew", "1.0"), minted)
    assert refused_new.status_code == 403
    assert not Project.objects.filter(normalized_name="brandnew").exists()
    accepted = post_upload(client, wheel_upload("sampleproject", "1.0"), minted)
    assert accepted.status_code == 200, accepted.content
    assert File.objects.filter(release__project__name="sampleproject").count() == 1
    ApiToken.objects.update(expires=timezone.now() - timedelta(seconds=1))
    dead = post_upload(client, wheel_upload("sampleproject", "1.1"), minted)
    assert dead.status_code == 403
    assert File.objects.count() == 1


def _assert_refused(client, token: str, code: str) -> None:
    assert refusal_code(mint(client, token)) == code
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"audience": "another-index"}, "invalid-token"),
        ({"audience": ["testserver", "another-index"]}, "invalid-token"),
        ({"lifetime": -120}, "invalid-token"),
        ({"repository": "octo-org/other"}, "invalid-publisher"),
        ({"workflow": "evil.yml"}, "invalid-publisher"),
        ({"event_name": "pull_request_target"}, "invalid-publisher"),
        ({"owner_id": "999"}, "invalid-publisher"),
    ],
    ids=[
        "wrong-audience",
        "two-audiences",
        "expired",
        "unregistered-repository",
        "wrong-workflow",
        "pull-request-target",
        "wrong-owner-id",
    ],
)
def test_exchange_refuses(client, github, publisher, audience, change, code):
    change = dict(change)
    token_args = {key: change.pop(key) for key in ("audience", "lifetime") if key in change}
    claim_args = {k: change.pop(k) for k in ("repository", "workflow", "owner_id") if k in change}
    claims = github_claims(**claim_args, **change)
    _assert_refused(client, github.token(**{"audience": audience, **token_args}, **claims), code)


def test_replayed_jti_is_refused(client, github, publisher, audience):
    token = github.token(audience=audience, **github_claims())
    assert mint(client, token).status_code == 200
    assert refusal_code(mint(client, token)) == "invalid-reuse-token"
    assert ApiToken.objects.count() == 1


def test_unknown_issuer_is_refused(client, github, publisher, audience, settings):
    token = github.token(audience=audience, **github_claims())
    settings.TRUSTED_PUBLISHING_GITHUB_ISSUER = "https://issuer.invalid"
    response = mint(client, token)
    assert refusal_code(response) == "invalid-payload"
    assert response.json()["errors"][0]["description"] == "unknown trusted publishing issuer"
    assert not ApiToken.objects.exists()


def test_unknown_signing_key_is_refused(client, github, publisher, audience):
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _assert_refused(
        client, github.token(audience=audience, kid="rsa-9", key=stranger, **github_claims()),
        "invalid-token",
    )  # fmt: skip
    # A known key id with someone else's signature fails the signature check.
    _assert_refused(
        client, github.token(audience=audience, key=stranger, **github_claims()), "invalid-token"
    )


def test_alg_none_and_hs256_are_refused(client, github, publisher, audience):
    claims = {"iss": github.url, "aud": audience, "iat": 0, "exp": 4102444800, **github_claims()}
    unsigned = jwt.encode(claims, None, algorithm="none")
    _assert_refused(client, unsigned, "invalid-token")
    # HS256 keyed with the public key's text: the classic algorithm-confusion attack (signed
    # by hand, since PyJWT itself refuses to use a public key as an HMAC secret).
    public_jwk = json.dumps(github.jwks()["keys"][0]).encode()
    header = {"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}
    signing_input = b".".join(
        base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=")
        for part in (header, claims)
    )
    mac = hmac.new(public_jwk, signing_input, hashlib.sha256).digest()
    hs256 = (signing_input + b"." + base64.urlsafe_b64encode(mac).rstrip(b"=")).decode()
    _assert_refused(client, hs256, "invalid-token")


def test_malformed_payloads_are_refused(client, github, publisher):
    assert refusal_code(
        client.post("/_/oidc/mint-token", "{", content_type="application/json")
    ) == ("invalid-payload")
    assert refusal_code(mint(client, "not.a.jwt")) == "invalid-payload"
    response = client.post(
        "/_/oidc/mint-token", json.dumps({"token": 5}), content_type="application/json"
    )
    assert refusal_code(response) == "invalid-payload"
    assert client.get("/_/oidc/mint-token").status_code == 405


def test_not_enabled(client, github, publisher, audience, settings):
    settings.TRUSTED_PUBLISHING = False
    _assert_refused(client, github.token(audience=audience, **github_claims()), "not-enabled")


def test_environment_must_match_when_the_publisher_names_one(
    client, github, project, owner, audience
):
    add_publisher(
        project=project, by=owner, kind=Kind.GITHUB, owner="octo-org", repository="sampleproject",
        owner_id="1234", workflow="release.yml", environment="pypi",
    )  # fmt: skip
    _assert_refused(
        client, github.token(audience=audience, **github_claims(environment="dev")),
        "invalid-publisher",
    )  # fmt: skip
    ok = mint(client, github.token(audience=audience, **github_claims(environment="PyPI")))
    assert ok.status_code == 200


def test_keys_are_cached_and_refreshed_for_an_unknown_key_id(client, github, publisher, audience):
    assert mint(client, github.token(audience=audience, **github_claims())).status_code == 200
    fetched = github.requests.count("/jwks")
    assert mint(client, github.token(audience=audience, **github_claims())).status_code == 200
    assert github.requests.count("/jwks") == fetched
    rotated = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    github.keys["rsa-2"] = ("RS256", rotated)
    response = mint(client, github.token(audience=audience, kid="rsa-2", **github_claims()))
    assert response.status_code == 200, response.content
    assert github.requests.count("/jwks") == fetched + 1


def test_self_managed_gitlab_publisher(client, gitlab, project, owner, audience):
    host = gitlab.url.removeprefix("http://")
    add_publisher(
        project=project, by=owner, kind=Kind.GITLAB, owner="my-group", repository="sampleproject",
        workflow=".gitlab-ci.yml", issuer_url=gitlab.url,
    )  # fmt: skip
    wrong = gitlab_claims(host=host, config="other.yml")
    _assert_refused(client, gitlab.token(audience=audience, **wrong), "invalid-publisher")
    response = mint(client, gitlab.token(audience=audience, **gitlab_claims(host=host)))
    assert response.status_code == 200, response.content
    assert PublisherToken.objects.get().claims["repository"] == "my-group/sampleproject"


def test_generic_issuer_with_staff_rules(client, gitlab, project, owner, audience):
    forgejo = OidcIssuer.objects.create(
        name="Forgejo",
        issuer_url=gitlab.url,
        claim_rules=[
            {"claim": "repository", "match": "exact"},
            {"claim": "workflow_ref", "match": "ref"},
        ],
    )
    add_publisher(
        project=project, by=owner, kind=Kind.GENERIC, issuer=forgejo,
        claims={
            "repository": "team/sampleproject",
            "workflow_ref": "team/sampleproject/.forgejo/workflows/release.yml",
        },
    )  # fmt: skip
    claims = {
        "repository": "team/sampleproject",
        "workflow_ref": "team/sampleproject/.forgejo/workflows/release.yml@refs/tags/v1",
    }
    assert mint(client, gitlab.token(audience=audience, **claims)).status_code == 200
    claims["repository"] = "team/other"
    _assert_refused_after_one = refusal_code(
        mint(client, gitlab.token(audience=audience, **claims))
    )
    assert _assert_refused_after_one == "invalid-publisher"
    assert ApiToken.objects.count() == 1


def test_pending_publisher_creates_the_project_on_first_use(client, github, audience):
    alice = make_user("alice")
    add_pending_publisher(
        project_name="Fresh-Project", by=alice, kind=Kind.GITHUB, owner="octo-org",
        repository="sampleproject", owner_id="1234", workflow="release.yml",
    )  # fmt: skip
    response = mint(client, github.token(audience=audience, **github_claims()))
    assert response.status_code == 200, response.content
    project = Project.objects.get(normalized_name="fresh-project")
    assert project.roles.get().user == alice
    assert not PendingPublisher.objects.exists()
    assert project.trusted_publishers.get().owner_id == "1234"
    tags = set(ProjectEvent.objects.filter(project=project).values_list("tag", flat=True))
    assert {"project:create", "project:oidc:publisher-added"} <= tags
    token = response.json()["token"]
    uploaded = post_upload(client, wheel_upload("Fresh-Project", "0.1"), token)
    assert uploaded.status_code == 200, uploaded.content
    # Now an ordinary publisher: the next job gets a token too.
    assert mint(client, github.token(audience=audience, **github_claims())).status_code == 200


def test_pending_publisher_for_a_name_taken_since_is_refused(client, github, audience):
    alice, bob = make_user("alice"), make_user("bob")
    add_pending_publisher(
        project_name="taken", by=alice, kind=Kind.GITHUB, owner="octo-org",
        repository="sampleproject", owner_id="1234", workflow="release.yml",
    )  # fmt: skip
    make_project("taken", owner=bob)
    _assert_refused(
        client, github.token(audience=audience, **github_claims()), "invalid-pending-publisher"
    )
    assert not PendingPublisher.objects.exists()


def test_removing_a_publisher_kills_its_live_tokens(client, github, publisher, audience, owner):
    from trusted_publishing.publishers import remove_publisher

    minted = mint(client, github.token(audience=audience, **github_claims())).json()["token"]
    remove_publisher(publisher=publisher, by=owner)
    assert not ApiToken.objects.exists()
    assert post_upload(client, wheel_upload("sampleproject", "1.0"), minted).status_code == 403


def test_mint_token_is_rate_limited_per_ip(client, github, publisher, audience, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "oidc_mint_ip": "2/3600"}
    assert refusal_code(mint(client, "x")) == "invalid-payload"
    assert refusal_code(mint(client, "y")) == "invalid-payload"
    response = mint(client, github.token(audience=audience, **github_claims()))
    assert response.status_code == 429
    assert response.json()["errors"][0]["code"] == "rate-limited"
    assert not ApiToken.objects.exists()


def test_an_issuer_that_cannot_be_reached_is_not_asked_again_at_once(
    client, settings, publisher, audience, github
):
    token = github.token(audience=audience, **github_claims())
    github.__exit__(None, None, None)  # the issuer goes away
    first = mint(client, token)
    assert refusal_code(first) == "invalid-token"
    assert "could not fetch" in first.json()["errors"][0]["description"]
    second = mint(client, token)
    assert "try again later" in second.json()["errors"][0]["description"]
    assert not ApiToken.objects.exists()


def test_a_private_gitlab_url_named_by_an_owner_is_not_fetched(
    client, gitlab, project, owner, audience, settings
):
    add_publisher(
        project=project, by=owner, kind=Kind.GITLAB, owner="my-group", repository="sampleproject",
        workflow=".gitlab-ci.yml", issuer_url=gitlab.url,
    )  # fmt: skip
    settings.TRUSTED_PUBLISHING_ALLOW_PRIVATE = False
    host = gitlab.url.removeprefix("http://")
    response = mint(client, gitlab.token(audience=audience, **gitlab_claims(host=host)))
    assert refusal_code(response) == "invalid-token"
    assert "not on the public internet" in response.json()["errors"][0]["description"]
    assert gitlab.requests == []


def test_the_publishing_users_standing_still_applies(client, github, publisher, audience, owner):
    owner.emails.update(verified=False)
    response = mint(client, github.token(audience=audience, **github_claims()))
    assert refusal_code(response) == "invalid-publisher"
    assert "verified" in response.json()["errors"][0]["description"]
    assert not ApiToken.objects.exists()


def test_a_key_of_the_wrong_type_or_no_jti_is_refused(client, github, publisher, audience):
    mixed = github.token(audience=audience, kid="rsa-1", key=github.ec_key, algorithm="ES256",
                         **github_claims())  # fmt: skip
    _assert_refused(client, mixed, "invalid-token")
    no_jti = github.token(audience=audience, omit=("jti",), **github_claims())
    _assert_refused(client, no_jti, "invalid-token")
    numeric_jti = github.token(audience=audience, jti=12345, **github_claims())
    _assert_refused(client, numeric_jti, "invalid-token")


def _b64(value: object) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "header",
    [
        {"alg": ["RS256"], "kid": "rsa-1"},
        {"alg": "RS256", "kid": ["rsa-1"]},
        {"alg": "RS256", "kid": "rsa-1", "crit": ["exp"]},
        {"alg": "ES256", "kid": None},
        {"alg": "RS256", "kid": "\x00"},
    ],
)
def test_odd_headers_are_refused_not_errors(client, github, publisher, audience, header):
    payload = {"iss": github.url, "aud": audience, "exp": 4102444800, "iat": 0, "jti": "j"}
    token = f"{_b64(header)}.{_b64(payload)}.{_b64(b'sig')}"
    assert refusal_code(mint(client, token)) in {"invalid-token", "invalid-payload"}


@pytest.mark.parametrize(
    "payload",
    [
        [1, 2],
        {"iss": ["x"]},
        {"iss": None},
        {"iss": "x" * 20_000},
        "just a string",
    ],
)
def test_odd_payloads_are_refused_not_errors(client, github, publisher, payload):
    token = f"{_b64({'alg': 'RS256', 'kid': 'rsa-1'})}.{_b64(payload)}.{_b64(b'sig')}"
    assert refusal_code(mint(client, token)) == "invalid-payload"


def test_google_service_account_publisher(client, gitlab, project, owner, audience, settings):
    settings.TRUSTED_PUBLISHING_GOOGLE_ISSUER = gitlab.url  # the loopback issuer plays Google
    add_publisher(
        project=project, by=owner, kind=Kind.GOOGLE, email="ci@proj.iam.gserviceaccount.com",
        subject="111",
    )  # fmt: skip
    claims = {"email": "ci@proj.iam.gserviceaccount.com", "email_verified": True, "sub": "111"}
    unverified = {**claims, "email_verified": False}
    _assert_refused(client, gitlab.token(audience=audience, **unverified), "invalid-publisher")
    other_subject = {**claims, "sub": "222"}
    _assert_refused(client, gitlab.token(audience=audience, **other_subject), "invalid-publisher")
    response = mint(client, gitlab.token(audience=audience, omit=("jti",), **claims))
    assert response.status_code == 200, response.content
    assert PublisherToken.objects.get().claims["email"] == claims["email"]


def test_burn_token_kills_a_minted_token_and_nothing_else(
    client, github, publisher, audience, owner
):
    from tests.factories import make_token

    minted = mint(client, github.token(audience=audience, **github_claims())).json()["token"]
    own = make_token(owner)

    def burn(token):
        return client.post(
            "/_/oidc/burn-token", json.dumps({"token": token}), content_type="application/json"
        )

    assert burn(own).status_code == 202
    assert burn("pypi-unknown.secret").status_code == 202
    assert ApiToken.objects.count() == 2
    assert burn(minted).status_code == 202
    assert ApiToken.objects.count() == 1
    assert post_upload(client, wheel_upload("sampleproject", "1.0"), minted).status_code == 403
    assert refusal_code(
        client.post("/_/oidc/burn-token", "[]", content_type="application/json")
    ) == ("invalid-payload")
