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


def test_a_prepared_insert_is_the_orms_create():
    """The same row and instance as `objects.create`, its signals sent, for any values."""
    from django.db.models import signals

    from packages.models import ProjectEvent
    from pypi_site.prepared import PreparedInsert
    from tests.factories import make_project

    project, user = make_project("demo"), make_user("alice")
    saved = []

    def receiver(sender, instance, created: bool, **kwargs):
        saved.append((instance.pk, created))

    signals.post_save.connect(receiver, sender=ProjectEvent)
    try:
        insert = PreparedInsert(ProjectEvent)
        values = [
            {"project": project, "project_name": "demo", "tag": "a", "user": user},
            {
                "project": None,
                "project_name": "gone",
                "tag": "b",
                "ip_address": "10.0.0.1",
                "additional": {"nested": ["é", 1, None]},
            },
        ]
        for fields in values:
            ours = insert.create(**fields)
            theirs = ProjectEvent.objects.create(**fields)
            assert ours.pk and ours.pk != theirs.pk and not ours._state.adding
            assert ours.time is not None  # auto_now_add, as the ORM sets it.
            row = ProjectEvent.objects.values().get(pk=ours.pk)
            other = ProjectEvent.objects.values().get(pk=theirs.pk)
            for row_ in (row, other):
                del row_["id"], row_["time"]
            assert row == other
        assert [was_created for _pk, was_created in saved] == [True] * 4
    finally:
        signals.post_save.disconnect(receiver, sender=ProjectEvent)


def test_a_prepared_insert_hands_expressions_to_the_orm_and_fails_as_it_does():
    from django.db import IntegrityError, connection, transaction
    from django.db.models import Value
    from django.db.models.functions import Lower

    from packages.models import FilenameRegistry
    from pypi_site.prepared import PreparedInsert

    insert = PreparedInsert(FilenameRegistry)
    assert insert.create(filename=Lower(Value("Demo-1.0.TAR.GZ"))).pk
    assert FilenameRegistry.objects.filter(filename="demo-1.0.tar.gz").exists()
    insert.create(filename="demo-2.0.tar.gz")
    with transaction.atomic():
        with pytest.raises(IntegrityError):
            insert.create(filename="demo-2.0.tar.gz")
        # As after a failed save(): the transaction can only be rolled back.
        assert connection.needs_rollback
        transaction.set_rollback(True)
    assert FilenameRegistry.objects.count() == 2
