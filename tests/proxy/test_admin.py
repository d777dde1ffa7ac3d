"""Staff's side of the proxy: block, purge, allowed local names, release-age exemptions, local
names that the upstream also lists, and the counts on /metrics."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from packages.models import Project, ReleaseAgeExemption
from proxy import mirror
from proxy.models import AllowedLocalName, UpstreamProject
from tests.factories import make_project

pytestmark = pytest.mark.django_db


def test_block_from_admin_purges_and_answers_404(admin_client, client, upstream):
    upstream.add_wheel("evil", "1.0")
    assert client.get("/simple/evil/").status_code == 200
    state = UpstreamProject.objects.get(normalized_name="evil")
    response = admin_client.post(
        f"/admin/proxy/upstreamproject/{state.pk}/change/",
        {"blocked": "on", "block_reason": "typosquat of good"},
    )
    assert response.status_code == 302
    assert not Project.objects.filter(normalized_name="evil").exists()
    blocked = client.get("/simple/evil/")
    assert blocked.status_code == 404 and "typosquat of good" in blocked.content.decode()
    # A name never fetched is blocked ahead of time from the add form.
    upstream.add_wheel("Evil.Twin", "1.0")
    response = admin_client.post(
        "/admin/proxy/upstreamproject/add/",
        {"normalized_name": "Evil.Twin", "blocked": "on", "block_reason": "malware"},
    )
    assert response.status_code == 302
    assert client.get("/pypi/evil-twin/json").json()["message"].endswith("malware")
    assert upstream.page_requests("evil-twin") == 0
    # A block needs its reason.
    missing = admin_client.post(
        "/admin/proxy/upstreamproject/add/", {"normalized_name": "other", "blocked": "on"}
    )
    assert (
        missing.status_code == 200
        and not UpstreamProject.objects.filter(normalized_name="other").exists()
    )


def test_state_list_and_purge_action(admin_client, client, upstream):
    upstream.add_wheel("up-lib", "1.0")
    client.get("/simple/up-lib/")
    state = UpstreamProject.objects.get()
    page = admin_client.get("/admin/proxy/upstreamproject/")
    assert page.status_code == 200 and "up-lib" in page.content.decode()
    assert admin_client.get(f"/admin/proxy/upstreamproject/{state.pk}/change/").status_code == 200
    admin_client.post(
        "/admin/proxy/upstreamproject/",
        {"action": "purge", "_selected_action": [state.pk]},
    )
    assert not Project.objects.exists()
    assert UpstreamProject.objects.get().fetched_at is None


def test_allowed_names_and_exemptions_are_normalized(admin_client):
    admin_client.post("/admin/proxy/allowedlocalname/add/", {"name": "Our_Pkg", "reason": "ours"})
    allowed = AllowedLocalName.objects.get()
    assert allowed.normalized_name == "our-pkg" and allowed.created_by.is_superuser
    admin_client.post(
        "/admin/packages/releaseageexemption/add/",
        {
            "normalized_name": "Some.Project",
            "version": "2.0.0",
            "reason": "CVE fix",
            "expires_0": "2099-01-01",
            "expires_1": "00:00:00",
        },
    )
    exemption = ReleaseAgeExemption.objects.get()
    assert (exemption.normalized_name, exemption.version) == ("some-project", "2")
    assert admin_client.get("/admin/packages/releaseageexemption/").status_code == 200


def test_local_names_also_upstream(admin_client, upstream):
    make_project("ours")
    make_project("shadowed")
    upstream.add_wheel("shadowed", "3.0")
    out = io.StringIO()
    call_command("check_local_names", stdout=out, stderr=io.StringIO())
    assert "also upstream: shadowed" in out.getvalue()
    assert "1 of 2 local names" in out.getvalue()
    listed = admin_client.get("/admin/proxy/upstreamproject/?local_twin=yes").content.decode()
    assert "shadowed" in listed and "ours" not in listed
    # Checking never mirrors into the local project.
    assert Project.objects.get(normalized_name="shadowed").origin == "local"
    assert not Project.objects.get(normalized_name="shadowed").releases.exists()


def test_metrics_count_proxy_work(client, upstream):
    upstream.add_wheel("up-lib", "1.0")
    mirror.resolve("up-lib")
    body = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert 'pypi_proxy_pages_total{result="fetched"}' in body
