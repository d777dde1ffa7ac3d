"""Addresses that users had before Email rows existed were all given by staff (there was no
registration yet), so each becomes its user's verified primary address."""

from django.db import migrations
from django.db.models.functions import Lower
from django.utils import timezone


def record_existing_addresses(apps, schema_editor):
    User = apps.get_model("auth", "User")
    Email = apps.get_model("accounts", "Email")
    known = set(Email.objects.annotate(low=Lower("email")).values_list("low", flat=True))
    rows = []
    for user in User.objects.exclude(email="").order_by("pk").iterator():
        if user.email.lower() in known or Email.objects.filter(user=user, primary=True).exists():
            continue
        known.add(user.email.lower())
        rows.append(
            Email(user=user, email=user.email, primary=True, verified=True, verified_at=timezone.now())
        )
    Email.objects.bulk_create(rows, batch_size=500)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_emails_two_factor_events")]

    operations = [migrations.RunPython(record_existing_addresses, migrations.RunPython.noop)]
