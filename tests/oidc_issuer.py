"""A small OpenID Connect issuer for tests, on loopback: a discovery document, a JWKS, and
tokens signed with keys generated here (PyJWT). It stands in for GitHub Actions or GitLab
through the TRUSTED_PUBLISHING_*_ISSUER settings, and answers a GitHub Actions-style token
request (`ACTIONS_ID_TOKEN_REQUEST_URL`: `GET ...&audience=X` with a bearer token, answered
`{"value": "<JWT>"}`) so real clients such as `uv publish --trusted-publishing` can ask it."""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa


def _jwk(public_key, kid: str, alg: str) -> dict:
    jwk = json.loads(jwt.algorithms.get_default_algorithms()[alg].to_jwk(public_key))
    return {**jwk, "kid": kid, "use": "sig", "alg": alg}


class TestIssuer:
    """`issuer.url` is the `iss`; `token(**claims)` signs; `request_token` is what a CI job
    would get. `claims_for_request` are the claims the token endpoint signs."""

    __test__ = False  # not a pytest test class

    def __init__(self) -> None:
        self.rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec_key = ec.generate_private_key(ec.SECP256R1())
        self.keys = {"rsa-1": ("RS256", self.rsa_key), "ec-1": ("ES256", self.ec_key)}
        self.request_secret = secrets.token_urlsafe(16)
        self.claims_for_request: dict = {}
        self.requests: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> TestIssuer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def token_request_url(self) -> str:
        return f"{self.url}/token?api-version=2.0"

    def jwks(self) -> dict:
        return {"keys": [_jwk(key.public_key(), kid, alg) for kid, (alg, key) in self.keys.items()]}

    def token(
        self,
        *,
        audience: str | list[str],
        kid: str = "rsa-1",
        key=None,
        algorithm: str | None = None,
        lifetime: int = 300,
        omit: tuple[str, ...] = (),
        **claims: object,
    ) -> str:
        now = int(time.time())
        default_alg, default_key = self.keys.get(kid, ("RS256", self.rsa_key))
        body = {
            "iss": self.url,
            "aud": audience,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "jti": str(uuid.uuid4()),
            **claims,
        }
        for name in omit:
            body.pop(name, None)
        return jwt.encode(
            body, key or default_key, algorithm=algorithm or default_alg, headers={"kid": kid}
        )

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _json(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                parts = urlsplit(self.path)
                issuer.requests.append(parts.path)
                if parts.path == "/.well-known/openid-configuration":
                    self._json(200, {"issuer": issuer.url, "jwks_uri": f"{issuer.url}/jwks"})
                elif parts.path == "/jwks":
                    self._json(200, issuer.jwks())
                elif parts.path == "/token":
                    expected = f"bearer {issuer.request_secret}"
                    if self.headers.get("Authorization", "").lower() != expected.lower():
                        self._json(401, {"message": "bad request token"})
                        return
                    audience = parse_qs(parts.query).get("audience", [""])[0]
                    token = issuer.token(audience=audience, **issuer.claims_for_request)
                    self._json(200, {"count": 1, "value": token})
                else:
                    self._json(404, {"message": "not found"})

        return Handler


def github_claims(
    *,
    repository: str = "octo-org/sampleproject",
    owner_id: str = "1234",
    workflow: str = "release.yml",
    ref: str = "refs/tags/v1.0",
    **extra: object,
) -> dict:
    """The claims of a GitHub Actions job token (the ones the exchange reads)."""
    owner = repository.partition("/")[0]
    return {
        "sub": f"repo:{repository}:ref:{ref}",
        "repository": repository,
        "repository_owner": owner,
        "repository_owner_id": owner_id,
        "repository_id": "98765",
        "job_workflow_ref": f"{repository}/.github/workflows/{workflow}@{ref}",
        "workflow_ref": f"{repository}/.github/workflows/{workflow}@{ref}",
        "ref": ref,
        "sha": "0123456789abcdef0123456789abcdef01234567",
        "event_name": "push",
        "run_id": "42",
        **extra,
    }


def gitlab_claims(
    *,
    host: str,
    project_path: str = "my-group/sampleproject",
    config: str = ".gitlab-ci.yml",
    ref: str = "refs/heads/main",
    **extra: object,
) -> dict:
    return {
        "sub": f"project_path:{project_path}:ref_type:branch:ref:main",
        "project_path": project_path,
        "namespace_path": project_path.rpartition("/")[0],
        "ci_config_ref_uri": f"{host}/{project_path}//{config}@{ref}",
        "ref": "main",
        "sha": "fedcba9876543210fedcba9876543210fedcba98",
        **extra,
    }
