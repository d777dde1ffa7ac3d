"""pypi_site/prepared.py: a queryset compiled once gives what the queryset gives, for any
values, and refuses a query whose parameters Django rewrites on the way to SQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import ApiToken
from accounts.tokens import create_api_token
from pypi_site.prepared import PreparedQuery
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def tokens_of(user_id: int, description: str):
    return (
        ApiToken.objects.filter(user_id=user_id, description=description)
        .order_by("pk")
        .values_list("identifier", "read_only", "expires", "user__is_active")
    )


def test_prepared_rows_equal_the_querysets_for_every_value():
    alice, bob = make_user("alice"), make_user("bob")
    expires = timezone.now() + timedelta(days=3)
    create_api_token(user=alice, description="ci", read_only=True, expires=expires)
    create_api_token(user=alice, description="ci")
    create_api_token(user=bob, description="laptop")
    prepared = PreparedQuery(tokens_of, user_id=int, description=str)
    for user, description in [(alice, "ci"), (bob, "laptop"), (bob, "ci"), (alice, "")]:
        expected = list(tokens_of(user.pk, description))
        assert prepared.rows(user_id=user.pk, description=description) == expected
    # Converters applied: a datetime, not the text SQLite keeps; booleans as booleans.
    first = prepared.first(user_id=alice.pk, description="ci")
    assert first[1:] == (True, expires, True)
    assert prepared.first(user_id=bob.pk, description="ci") is None


def test_a_parameter_django_rewrites_is_refused():
    prepared = PreparedQuery(
        lambda part: ApiToken.objects.filter(description__contains=part).values_list("pk"),
        part=str,
    )
    with pytest.raises(ValueError, match="part"):
        prepared.rows(part="ci")


def test_prepared_objects_are_the_querysets_instances():
    from django.db import transaction

    from packages.models import Project
    from pypi_site.prepared import PreparedObjects
    from tests.factories import make_project

    make_project("alpha")
    beta = make_project("beta")
    by_name = PreparedObjects(
        Project, lambda name: Project.objects.filter(normalized_name=name)[:1], name=str
    )
    found = by_name.first(name="beta")
    assert found == beta and not found._state.adding and found._state.db == "default"
    expected = Project.objects.get(pk=beta.pk)
    for field in Project._meta.concrete_fields:
        assert getattr(found, field.attname) == getattr(expected, field.attname), field.name
    assert by_name.first(name="gamma") is None
    # Only some fields: the rest load on access, as with `only`.
    named = PreparedObjects(
        Project,
        lambda name: Project.objects.filter(normalized_name=name),
        fields=("id", "name"),
        name=str,
    )
    (partial,) = named.all(name="alpha")
    assert partial.get_deferred_fields() >= {"created", "last_serial"}
    assert partial.created == Project.objects.get(name="alpha").created
    # A locking lookup is compiled inside the transaction that first runs it.
    locked = PreparedObjects(
        Project,
        lambda name: Project.objects.select_for_update().filter(normalized_name=name)[:1],
        name=str,
    )
    with transaction.atomic():
        assert locked.first(name="alpha").name == "alpha"


def test_a_query_without_parameters_and_one_on_a_32_bit_column():
    """The admin flags' lookup takes no parameter. auth_user's id is a 32-bit integer: on
    PostgreSQL Django answers "no rows" for a value such a column cannot hold, so the
    stand-in must fit it, or the lookup would be compiled to nothing."""
    from packages.models import AdminFlag, Role, RoleName
    from tests.factories import make_project

    AdminFlag.objects.update_or_create(
        id=AdminFlag.Flag.READ_ONLY, defaults={"enabled": True, "banner": "maintenance"}
    )
    enabled = PreparedQuery(
        lambda: AdminFlag.objects.filter(enabled=True).values_list("id", "banner")
    )
    assert enabled.rows() == [(AdminFlag.Flag.READ_ONLY.value, "maintenance")]
    alice = make_user("alice")
    project = make_project("demo")
    Role.objects.create(user=alice, project=project, role_name=RoleName.OWNER)
    roles = PreparedQuery(
        lambda user_id: Role.objects.filter(user_id=user_id).values_list("role_name"),
        user_id=int,
    )
    assert roles.rows(user_id=alice.pk) == [(RoleName.OWNER.value,)]
