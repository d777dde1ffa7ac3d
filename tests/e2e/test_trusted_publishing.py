"""Trusted publishing end to end: `uv publish --trusted-publishing always` in the environment
of a GitHub Actions job, whose token request goes to a loopback OIDC issuer the test starts
(standing in for GitHub through TRUSTED_PUBLISHING_GITHUB_ISSUER), publishes through
/_/oidc/mint-token to a live server; then pip installs what it published."""

from __future__ import annotations

import json

import pytest

from tests.dists import make_wheel
from tests.e2e.helpers import VENV_BIN, clean_env, installed, make_venv, pip_install, run
from tests.e2e.servers import live_server_process
from tests.oidc_issuer import TestIssuer, github_claims
from tests.tls_proxy import TlsProxy

pytestmark = pytest.mark.e2e
AUDIENCE = "e2e-index"


def test_uv_publishes_through_the_exchange_and_pip_installs_it(tmp_path):
    with (
        TestIssuer() as issuer,
        live_server_process(
            tmp_path / "server",
            TRUSTED_PUBLISHING_GITHUB_ISSUER=issuer.url,
            TRUSTED_PUBLISHING_AUDIENCE=AUDIENCE,
        ) as server,
        TlsProxy(int(server.url.rsplit(":", 1)[1]), tmp_path) as tls,
    ):
        # A pending publisher: the first trusted upload creates the project.
        server.manage(
            "add_trusted_publisher", "tp-e2e-demo", "--kind", "github",
            "--repository", "octo-org/tp-e2e-demo", "--repository-owner-id", "1234",
            "--workflow", "release.yml", "--environment", "pypi",
            "--pending", "--user", server.username,
        )  # fmt: skip
        issuer.claims_for_request = github_claims(
            repository="octo-org/tp-e2e-demo", environment="pypi"
        )
        dist = tmp_path / "dist"
        dist.mkdir()
        filename, content = make_wheel("tp-e2e-demo", "1.0")
        (dist / filename).write_bytes(content)
        env = clean_env(
            GITHUB_ACTIONS="true",
            ACTIONS_ID_TOKEN_REQUEST_URL=issuer.token_request_url,
            ACTIONS_ID_TOKEN_REQUEST_TOKEN=issuer.request_secret,
            # uv asks /_/oidc/ over https only: through the TLS front, which it trusts.
            SSL_CERT_FILE=str(tls.ca_path),
        )
        published = run(
            [
                VENV_BIN / "uv", "publish", "--no-config", "--trusted-publishing", "always",
                "--publish-url", f"{tls.url}/legacy/", dist / filename,
            ],
            env=env,
        )  # fmt: skip
        assert "/token" in issuer.requests, published.stderr
        # uv gives the minted token back when done (/_/oidc/burn-token): it is gone at once.
        assert "Failed to invalidate" not in published.stderr
        left = server.shell(
            "from accounts.models import ApiToken; print(ApiToken.objects.filter("
            "description__startswith='OpenID token').count())"
        )
        assert left.strip().splitlines()[-1] == "0"
        page = server.simple_json("tp-e2e-demo")
        assert [f["filename"] for f in page["files"]] == [filename]
        python = make_venv(tmp_path / "venv")
        pip_install(python, f"{server.url}/simple/", "tp-e2e-demo")
        assert installed(python) == {"tp-e2e-demo": "1.0"}
        events = server.shell(
            "from packages.models import ProjectEvent; import json; print(json.dumps(["
            "e.additional for e in ProjectEvent.objects.filter("
            "tag='project:short_lived_api_token:added')]))"
        )
        (event,) = json.loads(events.strip().splitlines()[-1])
        assert event["repository"] == "octo-org/tp-e2e-demo"
        assert event["environment"] == "pypi"

        # The same job's token for another repository is refused, and uv says why.
        issuer.claims_for_request = github_claims(repository="octo-org/elsewhere")
        filename2, content2 = make_wheel("tp-e2e-demo", "1.1")
        (dist / filename2).write_bytes(content2)
        refused = run(
            [
                VENV_BIN / "uv", "publish", "--no-config", "--trusted-publishing", "always",
                "--publish-url", f"{tls.url}/legacy/", dist / filename2,
            ],
            env=env,
            check=False,
        )  # fmt: skip
        assert refused.returncode != 0
        assert "invalid-publisher" in refused.stderr
        assert len(server.simple_json("tp-e2e-demo")["files"]) == 1
