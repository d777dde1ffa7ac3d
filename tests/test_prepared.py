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
