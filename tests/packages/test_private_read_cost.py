"""The cost of a private read with a token, and that nothing about it is remembered.

`python -m bench.private` holds the private read within 1.5x a public cached page; what keeps it
there is the number of queries (the token with its user, the project, the grant) and that the
token and grant queries are compiled once (pypi_site/prepared.py). Every answer is still read at
the moment of asking: a revoked token, a removed role, a frozen or deactivated user or a token
that no longer names the project stop the very next read."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import connection
from django.db.models.sql.compiler import SQLCompiler
from django.test.utils import CaptureQueriesContext

from accounts.freezing import freeze_user, unfreeze_user
from accounts.models import ApiToken
from accounts.tokens import create_api_token, revoke_api_token
from organizations.membership import remove_role as remove_organization_role
from organizations.models import OrganizationRole
from packages.collaboration import remove_role
from packages.models import Project, Role
from tests.factories import (
    basic_auth,
    make_files,
    make_organization,
    make_project,
    make_release,
    make_user,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup():
    owner = make_user("olga")
    reader = make_user("rita")
    public = make_project("open-page", owner=owner)
    private = make_project("closed-page", owner=owner, is_private=True)
    for project in (public, private):
        make_files(make_release(project), 1)
    role = Role.objects.create(user=reader, project=private, role_name="Maintainer")
    issued = create_api_token(user=reader, projects=[private], read_only=True)
    return {
        "owner": owner,
        "reader": reader,
        "private": private,
        "role": role,
        "token": issued.token,
        "auth": basic_auth(issued.plaintext),
    }


def cached_read(client, path: str, **headers) -> tuple[int, list[str]]:
    """The status and the queries of a read whose page is already cached."""
    assert client.get(path, **headers).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        status = client.get(path, **headers).status_code
    return status, [q["sql"] for q in queries.captured_queries]


def test_a_cached_private_read_with_a_token_costs_three_queries(client, setup):
    _, public = cached_read(client, "/simple/open-page/")
    status, private = cached_read(client, "/simple/closed-page/", HTTP_AUTHORIZATION=setup["auth"])
    assert status == 200
    assert len(public) == 1
    # The token with its user and frozen flag, the project (as for a public page), the grant
    # with the token's scope. No session, no user row of its own, no write.
    assert len(private) == 3, private
    assert "accounts_apitoken" in private[0] and "accounts_account" in private[0]
    assert not any(sql.lstrip().upper().startswith(("UPDATE", "INSERT")) for sql in private)


def test_a_cached_private_read_compiles_no_more_queries_than_a_public_one(client, setup):
    """Compiling a queryset costs ten times running it: the token and grant queries are
    compiled once per process, so a private read compiles only what a public one does."""
    client.get("/simple/open-page/")
    client.get("/simple/closed-page/", HTTP_AUTHORIZATION=setup["auth"])
    compiled = []
    as_sql = SQLCompiler.as_sql

    def counting(self, *args, **kwargs):
        compiled.append(self.query.model)
        return as_sql(self, *args, **kwargs)

    with mock.patch.object(SQLCompiler, "as_sql", counting):
        client.get("/simple/open-page/")
        public = len(compiled)
        assert (
            client.get("/simple/closed-page/", HTTP_AUTHORIZATION=setup["auth"]).status_code == 200
        )
    assert public == 0  # The project lookup is compiled once too (packages/lookups.py).
    assert len(compiled) - public == public, compiled


def test_an_organization_member_reads_in_the_same_three_queries(client, setup):
    member = make_user("mo")
    acme = make_organization("acme", owner=setup["owner"])
    OrganizationRole.objects.create(user=member, organization=acme, role_name="Member")
    Project.objects.filter(pk=setup["private"].pk).update(organization=acme)
    auth = basic_auth(create_api_token(user=member, read_only=True).plaintext)
    status, queries = cached_read(client, "/simple/closed-page/", HTTP_AUTHORIZATION=auth)
    assert status == 200
    assert len(queries) == 3, queries


def read(client, setup) -> int:
    return client.get("/simple/closed-page/", HTTP_AUTHORIZATION=setup["auth"]).status_code


def test_a_revoked_token_stops_the_next_read(client, setup):
    assert read(client, setup) == 200
    revoke_api_token(user=setup["reader"], identifier=setup["token"].identifier)
    assert read(client, setup) == 401


def test_a_removed_role_stops_the_next_read(client, setup):
    assert read(client, setup) == 200
    remove_role(role=setup["role"], by=setup["owner"])
    assert read(client, setup) == 404


def test_a_frozen_or_deactivated_user_stops_at_the_next_read(client, setup):
    assert read(client, setup) == 200
    freeze_user(user=setup["reader"], reason="test")
    assert read(client, setup) == 401
    unfreeze_user(user=setup["reader"])
    assert read(client, setup) == 200
    type(setup["reader"]).objects.filter(pk=setup["reader"].pk).update(is_active=False)
    assert read(client, setup) == 401


def test_a_token_that_no_longer_names_the_project_stops_the_next_read(client, setup):
    assert read(client, setup) == 200
    ApiToken.objects.get(pk=setup["token"].pk).projects.clear()
    assert read(client, setup) == 404


def test_a_member_removed_from_the_organization_stops_at_the_next_read(client, setup):
    member = make_user("mo")
    acme = make_organization("acme", owner=setup["owner"])
    role = OrganizationRole.objects.create(user=member, organization=acme, role_name="Member")
    Project.objects.filter(pk=setup["private"].pk).update(organization=acme)
    auth = basic_auth(create_api_token(user=member, read_only=True).plaintext)
    assert client.get("/simple/closed-page/", HTTP_AUTHORIZATION=auth).status_code == 200
    remove_organization_role(role=role, by=setup["owner"])
    assert client.get("/simple/closed-page/", HTTP_AUTHORIZATION=auth).status_code == 404
