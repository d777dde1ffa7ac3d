"""Verifying a CI job's OIDC token: which issuer, its signing keys, and the standard claims.

1. The issuer is picked from the token's unverified `iss`, among those the index trusts: the
   GitHub, GitLab and Google issuers of the settings, self-managed GitLab URLs that owners
   gave their publishers, and generic issuers staff registered.
2. Its keys come from the discovery document's `jwks_uri`, kept in the shared cache for an
   hour and fetched again (at most once a minute) when a token names an unknown key id.
3. PyJWT checks the signature (RS256 or ES256 only: never `none` or a shared secret), `iss`,
   `aud` (exactly one, ours), `exp`, `iat` and `nbf`, with a small leeway for clock skew.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from urllib.parse import urlsplit

import jwt
from django.conf import settings
from django.core.cache import cache

from packages.outbound import (
    AddressRefused,
    CheckedHTTPConnection,
    CheckedHTTPSConnection,
    HostNotFound,
)
from trusted_publishing.models import Kind, OidcIssuer, PendingPublisher, TrustedPublisher

ALGORITHMS = ["RS256", "ES256"]
LEEWAY_SECONDS = 30
MAX_TOKEN_BYTES = 16 * 1024
MAX_DOCUMENT_BYTES = 256 * 1024
FETCH_TIMEOUT_SECONDS = 5
KEYS_CACHE_SECONDS = 3600
REFRESH_INTERVAL_SECONDS = 60


class ExchangeError(Exception):
    """A refusal, with the public index's error code."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


def invalid_token(description: str = "malformed or invalid token") -> ExchangeError:
    return ExchangeError("invalid-token", description)


@dataclass(frozen=True)
class Issuer:
    kind: str
    url: str
    audience: str
    # Operators name their own issuers (settings, admin); an owner's GitLab URL must be public.
    allow_private: bool
    generic: OidcIssuer | None = None


def find_issuer(url: str) -> Issuer | None:
    """The trusted issuer whose URL is exactly `url`, or None."""
    audience = settings.TRUSTED_PUBLISHING_AUDIENCE
    fixed = {
        settings.TRUSTED_PUBLISHING_GITHUB_ISSUER: Kind.GITHUB,
        settings.TRUSTED_PUBLISHING_GITLAB_ISSUER: Kind.GITLAB,
        settings.TRUSTED_PUBLISHING_GOOGLE_ISSUER: Kind.GOOGLE,
    }
    if url in fixed:
        return Issuer(kind=fixed[url], url=url, audience=audience, allow_private=True)
    generic = OidcIssuer.objects.filter(issuer_url=url, enabled=True).first()
    if generic is not None:
        return Issuer(
            kind=Kind.GENERIC,
            url=url,
            audience=generic.audience or audience,
            allow_private=True,
            generic=generic,
        )
    for model in (TrustedPublisher, PendingPublisher):
        if model.objects.filter(kind=Kind.GITLAB, issuer_url__in=[url, url + "/"]).exists():
            return Issuer(
                kind=Kind.GITLAB,
                url=url,
                audience=audience,
                allow_private=settings.TRUSTED_PUBLISHING_ALLOW_PRIVATE,
            )
    return None


def fetch_json(url: str, *, allow_private: bool) -> dict:
    """GET a JSON object, bounded in time and size, no redirects, through the SSRF-checked
    connections of packages/outbound.py."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise invalid_token(f"issuer document URL is not http(s): {url}")
    connection_class = CheckedHTTPSConnection if parts.scheme == "https" else CheckedHTTPConnection
    connection = connection_class(
        parts.hostname, parts.port, timeout=FETCH_TIMEOUT_SECONDS, allow_private=allow_private
    )
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("GET", target, headers={"Accept": "application/json"})
        response = connection.getresponse()
        body = response.read(MAX_DOCUMENT_BYTES + 1)
    except (OSError, AddressRefused, HostNotFound) as exc:
        raise invalid_token(f"could not fetch the issuer's keys: {exc}") from None
    finally:
        connection.close()
    if response.status != 200 or len(body) > MAX_DOCUMENT_BYTES:
        raise invalid_token(f"could not fetch the issuer's keys: {url} answered {response.status}")
    try:
        document = json.loads(body)
    except ValueError:
        raise invalid_token(f"the issuer's document at {url} is not JSON") from None
    if not isinstance(document, dict):
        raise invalid_token(f"the issuer's document at {url} is not a JSON object")
    return document


def _keys_cache_key(issuer: Issuer) -> str:
    return "oidc:jwks:" + hashlib.sha256(issuer.url.encode()).hexdigest()[:32]


def _fetch_keys(issuer: Issuer) -> list[dict]:
    discovery = fetch_json(
        issuer.url + "/.well-known/openid-configuration", allow_private=issuer.allow_private
    )
    jwks_uri = discovery.get("jwks_uri")
    if not isinstance(jwks_uri, str):
        raise invalid_token("the issuer's discovery document has no jwks_uri")
    keys = fetch_json(jwks_uri, allow_private=issuer.allow_private).get("keys")
    if not isinstance(keys, list):
        raise invalid_token("the issuer's key set has no keys")
    return [key for key in keys if isinstance(key, dict)][:100]


def signing_key(issuer: Issuer, kid: str | None) -> jwt.PyJWK:
    """The issuer's key with this id, from the cache or, when unknown, fetched afresh."""
    cache_key = _keys_cache_key(issuer)
    keys = cache.get(cache_key)
    if keys is None or (
        _pick(keys, kid) is None and cache.add(cache_key + ":refresh", 1, REFRESH_INTERVAL_SECONDS)
    ):
        # An issuer that failed is not asked again for a while: each token naming it would
        # otherwise cost a slow outbound request.
        if cache.get(cache_key + ":failed"):
            raise invalid_token("the issuer's keys could not be fetched; try again later")
        try:
            keys = _fetch_keys(issuer)
        except ExchangeError:
            cache.set(cache_key + ":failed", 1, REFRESH_INTERVAL_SECONDS)
            raise
        cache.set(cache_key, keys, KEYS_CACHE_SECONDS)
    found = _pick(keys, kid)
    if found is None:
        raise invalid_token("the token's signing key is not one of the issuer's keys")
    try:
        return jwt.PyJWK(found)
    except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError, KeyError):
        raise invalid_token("the issuer's signing key is unusable") from None


def _pick(keys: list[dict], kid: str | None) -> dict | None:
    if kid is None:
        return keys[0] if len(keys) == 1 else None
    return next((key for key in keys if key.get("kid") == kid), None)


def unverified_issuer(raw: str) -> str:
    """The token's `iss` before any check, to choose the issuer by (invalid-payload if the
    token is not even a JWT, as the public index answers)."""
    try:
        claims = jwt.decode(raw, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise ExchangeError("invalid-payload", "malformed JWT") from None
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or not issuer:
        raise ExchangeError("invalid-payload", "unknown trusted publishing issuer")
    return issuer


def verify_token(raw: str) -> tuple[Issuer, dict]:
    """The issuer and the verified claims of `raw`, or an ExchangeError."""
    if len(raw) > MAX_TOKEN_BYTES:
        raise ExchangeError("invalid-payload", "malformed JWT")
    issuer = find_issuer(unverified_issuer(raw))
    if issuer is None:
        raise ExchangeError("invalid-payload", "unknown trusted publishing issuer")
    try:
        header = jwt.get_unverified_header(raw)
    except jwt.PyJWTError:
        raise ExchangeError("invalid-payload", "malformed JWT") from None
    algorithm = header.get("alg")
    if algorithm not in ALGORITHMS:
        raise invalid_token(f"signing algorithm {algorithm!r} is not accepted")
    kid = header.get("kid")
    key = signing_key(issuer, kid if isinstance(kid, str) else None)
    if key.algorithm_name != algorithm:
        raise invalid_token(f"the signing key is not an {algorithm} key")
    try:
        claims = jwt.decode(
            raw,
            key=key.key,
            algorithms=[algorithm],
            audience=issuer.audience,
            issuer=issuer.url,
            leeway=LEEWAY_SECONDS,
            options={"require": ["iss", "aud", "exp", "iat"]},
        )
    except jwt.ExpiredSignatureError:
        raise invalid_token("the token has expired") from None
    except jwt.InvalidAudienceError:
        raise invalid_token("the token is not for this index (audience)") from None
    except jwt.PyJWTError as exc:
        raise invalid_token(f"malformed or invalid token: {exc}") from None
    except (TypeError, ValueError):  # a key PyJWT cannot use for this algorithm
        raise invalid_token() from None
    audience = claims["aud"]
    if isinstance(audience, list) and len(audience) != 1:
        raise invalid_token("the token must name exactly one audience")
    # GitHub and GitLab give every token an id, which makes it single-use here.
    if issuer.kind in (Kind.GITHUB, Kind.GITLAB) and claims.get("jti") in (None, ""):
        raise invalid_token("the token has no jti")
    return issuer, claims
